// Every participant service's schema and demo seed, by service. New services register here.
import type { Pool } from 'pg';
import { barrierMigration } from './barrier';
import type { Migration, Pools, ServiceName } from './db';
import {
  inventoryMigrations,
  notificationsMigrations,
  ordersMigrations,
  paymentsMigrations,
  seedShop,
} from './shop';

export interface ServiceSpec {
  migrations: Migration[];
  seed?(pools: Pools): Promise<void>;
}

const placeholder = (): ServiceSpec => ({ migrations: [barrierMigration] });

export const SERVICES: Record<ServiceName, ServiceSpec> = {
  orders: { migrations: ordersMigrations },
  inventory: { migrations: inventoryMigrations, seed: (p) => seedShop(p) },
  payments: { migrations: paymentsMigrations },
  notifications: { migrations: notificationsMigrations },
  bank_a: placeholder(),
  bank_b: placeholder(),
  tcc: placeholder(),
};

export type { Pool };
