import type { MigrationFactory } from '../migrate.js';
import { auth } from './001_auth.js';
import { sessions } from './010_sessions.js';
import { events } from './020_events.js';
import { webhooks } from './021_webhooks.js';
import { idempotencyRandomId } from './030_idempotency_random_id.js';
import { eventDedup } from './031_event_dedup.js';
import { peerRefs } from './032_peer_refs.js';
import { mediaUploads } from './033_media_uploads.js';
import { cluster } from './036_cluster.js';
import { webhookLeases } from './037_webhook_leases.js';
import { uploadInstance } from './038_upload_instance.js';
import { eventLogIndexes } from './039_event_log_indexes.js';
import { eventLogRowid } from './040_event_log_rowid.js';

/** Every migration, by name; names sort in the order they run. Add new ones at the end. */
export const migrations: Record<string, MigrationFactory> = {
  '001_auth': auth,
  '010_sessions': sessions,
  '020_events': events,
  '021_webhooks': webhooks,
  '030_idempotency_random_id': idempotencyRandomId,
  '031_event_dedup': eventDedup,
  '032_peer_refs': peerRefs,
  '033_media_uploads': mediaUploads,
  '036_cluster': cluster,
  '037_webhook_leases': webhookLeases,
  '038_upload_instance': uploadInstance,
  '039_event_log_indexes': eventLogIndexes,
  '040_event_log_rowid': eventLogRowid,
};
