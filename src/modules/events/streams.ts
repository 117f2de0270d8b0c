import type { FastifyReply, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { AppError } from '../../lib/errors.js';
import type { Principal } from '../auth/auth.service.js';
import type { StreamQuery } from './events.schema.js';

export interface EventFilter {
  types: Set<string> | null;
  sessionIds: string[] | null;
}

export class EventStreams {
  filterFor(_principal: Principal, _query: StreamQuery): EventFilter {
    throw new AppError('NOT_IMPLEMENTED', 'Event streams are not implemented yet');
  }
  openSse(_request: FastifyRequest, _reply: FastifyReply, _filter: EventFilter, _since: number | null): void {
    throw new AppError('NOT_IMPLEMENTED', 'Event streams are not implemented yet');
  }
  openWebSocket(
    _socket: WebSocket,
    _request: FastifyRequest,
    _filter: EventFilter,
    _since: number | null,
  ): void {
    throw new AppError('NOT_IMPLEMENTED', 'Event streams are not implemented yet');
  }
}
