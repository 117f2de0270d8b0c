/**
 * The peer cache and `min` objects (https://core.telegram.org/api/min): a min peer is kept with
 * the message it was seen in and addressed by it; it never replaces a full access hash.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Api, helpers } from 'teleproto';
import { PeerCache } from '../../src/telegram/peer-cache.js';

const big = (n: number | string) => helpers.returnBigInt(n);
const group = new Api.Channel({
  id: big(7),
  accessHash: big(70),
  title: 'Room',
  megagroup: true,
  photo: new Api.ChatPhotoEmpty(),
  date: 0,
});
const minDave = new Api.User({ id: big(42), min: true, accessHash: big(999), firstName: 'Dave' });
const fromDave = new Api.Message({
  id: 5,
  peerId: new Api.PeerChannel({ channelId: big(7) }),
  fromId: new Api.PeerUser({ userId: big(42) }),
  date: 0,
  message: 'hi',
});

test('a min user is addressed by the message it was seen in', () => {
  const cache = new PeerCache();
  cache.ingest([minDave], [group], [fromDave]);
  const peer = cache.inputPeer('42');
  assert.ok(peer instanceof Api.InputPeerUserFromMessage);
  assert.equal(peer.msgId, 5);
  assert.ok(peer.peer instanceof Api.InputPeerChannel);
  assert.equal(peer.peer.accessHash.toString(), '70');
  const user = cache.inputUser('42');
  assert.ok(user instanceof Api.InputUserFromMessage);
  const [row] = cache.takeDirty('s', 'now').filter((r) => r.peer_id === '42');
  assert.deepEqual([row.access_hash, row.seen_chat_id, row.seen_msg_id], [null, '-1000000000007', 5]);
  // Restored from its row, it still works.
  const restored = new PeerCache([row, ...new PeerCache().takeDirty('s', 'now')]);
  restored.ingest([], [group]);
  assert.ok(restored.inputPeer('42') instanceof Api.InputPeerUserFromMessage);
});

test('a min object never replaces a full access hash; a min user without its message is not kept', () => {
  const cache = new PeerCache();
  cache.ingest([new Api.User({ id: big(42), accessHash: big(123), firstName: 'Dave' })], [group]);
  cache.ingest([minDave], [group], [fromDave]);
  const peer = cache.inputPeer('42');
  assert.ok(peer instanceof Api.InputPeerUser);
  assert.equal(peer.accessHash.toString(), '123');

  const other = new PeerCache();
  other.ingest([minDave], [group], []);
  assert.equal(other.inputPeer('42'), undefined);
});
