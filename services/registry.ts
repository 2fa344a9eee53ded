// Every participant service's schema and demo seed, by service. New services register here.
import type { Pool } from 'pg';
import { eventBusMigration } from './choreography';
import { eventOutboxDeadLetterMigration, transferOutboxRelayMigration } from './outbox-relay';
import { transferNoticesMigration } from './transfer-notices';
import { globalPositionMigration } from './event-store';
import { eventIdentityMigration } from './event-append';
import { projectionsMigration } from './projections';
import { dailyRevenueMigration } from './projection-models';
import { streamLifecycleMigration } from './event-stream-lifecycle';
import { bankMoneyBoundsMigration, walletMoneyBoundsMigration } from './money-bounds';
import type { Migration, Pools, ServiceName } from './db';
import {
  inventoryMigrations,
  notificationsMigrations,
  ordersMigrations,
  paymentsMigrations,
  seedShop,
} from './shop';
import { bankMigrations, outboxMigrations, seedBank, tccMigrations } from './banks';
import { seedTrip, tripMigrations } from './trip';

export interface ServiceSpec {
  migrations: Migration[];
  seed?(pools: Pools): Promise<void>;
}

export const SERVICES: Record<ServiceName, ServiceSpec> = {
  orders: { migrations: [...ordersMigrations, eventBusMigration, eventOutboxDeadLetterMigration] },
  inventory: {
    migrations: [...inventoryMigrations, eventBusMigration, eventOutboxDeadLetterMigration],
    seed: (p) => seedShop(p),
  },
  payments: {
    migrations: [
      ...paymentsMigrations,
      eventBusMigration,
      eventOutboxDeadLetterMigration,
      globalPositionMigration,
      eventIdentityMigration,
      projectionsMigration,
      dailyRevenueMigration,
      streamLifecycleMigration,
      walletMoneyBoundsMigration,
    ],
  },
  notifications: { migrations: [...notificationsMigrations, transferNoticesMigration] },
  bank_a: {
    migrations: [...bankMigrations, bankMoneyBoundsMigration],
    seed: (p) => seedBank(p.bank_a, 'bank-a'),
  },
  bank_b: {
    migrations: [...bankMigrations, bankMoneyBoundsMigration],
    seed: (p) => seedBank(p.bank_b, 'bank-b'),
  },
  tcc: { migrations: tccMigrations },
  outbox: { migrations: [...outboxMigrations, transferOutboxRelayMigration] },
  trip: { migrations: tripMigrations, seed: (p) => seedTrip(p.trip) },
};

export type { Pool };
