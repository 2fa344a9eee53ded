// Every CLI command, in the order `settle --help` lists them. Add a pattern's commands here.
import type { Command } from '../cli-kit';
import { orderPlace, orderStatus } from './order';

export const COMMANDS: Command[] = [orderPlace, orderStatus];
