import { AppError } from '../../lib/errors.js';
import type { EventType } from '../../lib/events.js';
import type {
  CreateWebhookInput,
  DeliveryStatus,
  DeliveryView,
  UpdateWebhookInput,
  WebhookView,
} from './webhooks.schema.js';

const todo = () => new AppError('NOT_IMPLEMENTED', 'Webhooks are not implemented yet');

export class WebhooksService {
  async list(): Promise<WebhookView[]> {
    throw todo();
  }
  async get(_id: string): Promise<WebhookView> {
    throw todo();
  }
  async create(_input: CreateWebhookInput): Promise<WebhookView & { secret: string }> {
    throw todo();
  }
  async update(_id: string, _input: UpdateWebhookInput): Promise<WebhookView & { secret?: string }> {
    throw todo();
  }
  async remove(_id: string): Promise<void> {
    throw todo();
  }
  async listDeliveries(
    _id: string,
    _q: { status?: DeliveryStatus; limit: number; cursor?: string },
  ): Promise<{ items: DeliveryView[]; nextCursor: string | null }> {
    throw todo();
  }
  async redeliver(_id: string, _deliveryId: string): Promise<DeliveryView> {
    throw todo();
  }
  async sendTest(
    _id: string,
    _body: { type?: EventType; data?: Record<string, unknown> },
  ): Promise<DeliveryView> {
    throw todo();
  }
}
