// Every service the server can run, in start order. Each entry builds one service from the
// shared context and its own configuration section; add one line per service.
import type { ApiService, ServiceContext } from '../common/service.js';
import type { ServerConfig } from './config.js';

export type ServiceFactory = (ctx: ServiceContext, config: ServerConfig, others: ApiService[]) => ApiService;

export const serviceFactories: ServiceFactory[] = [
];
