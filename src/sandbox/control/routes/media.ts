/**
 * Control routes for files: the media and album fields of POST /messages (a user sends a photo,
 * video, file... exactly as from their own app, the file stored on their home DC), the files an
 * account uploaded (GET /files), and ageing file references (POST /file-references/expire).
 */
import { z } from 'zod';
import type { World } from '../../world/world.js';
import type { MessageMediaRecord, PeerKey } from '../../world/state.js';
import { CONTROL_MEDIA_KINDS, type ControlMediaInput } from '../../world/media-service.js';
import { ALBUM_MAX, ALBUM_MIN, newGroupedId } from '../../world/rpc-media.js';
import { albumGroupOf, type MediaKind } from '../../world/media.js';
import { lookupsFor } from './lookups.js';
import { ControlError, phone } from './route.js';
import type { Route } from './route.js';

const base64 = z
  .string()
  .max(64 * 1024 * 1024)
  .regex(/^[A-Za-z0-9+/\s]*={0,2}\s*$/, 'base64');

export const mediaItem = z
  .object({
    kind: z.enum(CONTROL_MEDIA_KINDS),
    base64: base64.min(1).optional(),
    path: z.string().min(1).max(4096).optional(),
    fileName: z.string().min(1).max(255),
    mimeType: z
      .string()
      .regex(/^[\w.+-]+\/[\w.+-]+$/, 'a MIME type')
      .optional(),
    duration: z.number().nonnegative().max(1e7).optional(),
    width: z.number().int().nonnegative().max(100_000).optional(),
    height: z.number().int().nonnegative().max(100_000).optional(),
    waveform: base64.max(1024).optional(),
    title: z.string().max(256).optional(),
    performer: z.string().max(256).optional(),
  })
  .refine((item) => (item.base64 === undefined) !== (item.path === undefined), {
    message: 'exactly one of "base64" and "path"',
  });

export type MediaItem = z.infer<typeof mediaItem>;

/** The JSON body of POST /messages may carry files as base64. */
export const MEDIA_MAX_BODY = 96 * 1024 * 1024;

export const MEDIA_BODY_DOC =
  '"media"?: {"kind": photo|video|document|audio|voice|video_note|animation|sticker, "base64" | "path" (a local file), "fileName", "mimeType"?, "duration"?, "width"?, "height"?, "waveform"? (base64), "title"?, "performer"?} with "text" as caption; "album"?: [media, ...] (2-10)';

function toInput(item: MediaItem): ControlMediaInput {
  return {
    kind: item.kind,
    ...(item.base64 !== undefined ? { bytes: Buffer.from(item.base64, 'base64') } : {}),
    ...(item.path !== undefined ? { path: item.path } : {}),
    fileName: item.fileName,
    ...(item.mimeType ? { mimeType: item.mimeType } : {}),
    ...(item.duration !== undefined ? { duration: item.duration } : {}),
    ...(item.width !== undefined ? { width: item.width } : {}),
    ...(item.height !== undefined ? { height: item.height } : {}),
    ...(item.waveform ? { waveform: Buffer.from(item.waveform, 'base64') } : {}),
    ...(item.title ? { title: item.title } : {}),
    ...(item.performer ? { performer: item.performer } : {}),
  };
}

/** The media kind each control kind makes (for the album rule, media.ts albumGroupOf). */
const KIND_OF: Record<MediaItem['kind'], MediaKind> = {
  photo: 'photo',
  video: 'video',
  document: 'document',
  audio: 'audio',
  voice: 'voice',
  video_note: 'round',
  animation: 'gif',
  sticker: 'sticker',
};

/**
 * A user sends one media message or an album to `key`, the text as the caption (of the first
 * item of an album). Returns the sender's message ids.
 */
export async function sendControlMedia(
  world: World,
  fromId: number,
  key: PeerKey,
  input: {
    text?: string;
    media?: MediaItem;
    album?: MediaItem[];
    replyToMessageId?: number;
    silent?: boolean;
  },
): Promise<{ ids: number[]; groupedId?: string }> {
  const items = input.album ?? (input.media ? [input.media] : []);
  if (input.album) {
    if (input.album.length < ALBUM_MIN || input.album.length > ALBUM_MAX)
      throw new ControlError(400, 'ALBUM_INVALID', `An album has ${ALBUM_MIN}-${ALBUM_MAX} items`);
    const groups = new Set(input.album.map((item) => albumGroupOf(KIND_OF[item.kind])));
    if (groups.size > 1 || groups.has(undefined))
      throw new ControlError(
        400,
        'ALBUM_INVALID',
        'An album holds photos and videos, or documents only, or audio only',
      );
  }
  const groupedId = input.album ? newGroupedId() : undefined;
  const media: MessageMediaRecord[] = [];
  for (const item of items) media.push(await world.media.fromControl(fromId, toInput(item)));
  // The messages of an album reach the other side as one batch of updates.
  const ids = world.batchPushes(() =>
    media.map(
      (record, index) =>
        world.sendMessage(fromId, key, {
          text: index === 0 ? (input.text ?? '') : '',
          media: record,
          ...(groupedId ? { groupedId } : {}),
          ...(input.replyToMessageId ? { replyToId: input.replyToMessageId } : {}),
          ...(input.silent ? { silent: true } : {}),
        }).id,
    ),
  );
  return { ids, ...(groupedId ? { groupedId } : {}) };
}

export function mediaRoutes(world: World): Route[] {
  const { userOf } = lookupsFor(world);
  return [
    {
      method: 'GET',
      path: '/files',
      description:
        'The files an account uploaded (through upload.saveFilePart / saveBigFilePart, or sent through this API), with its part-call counts.',
      bodyDoc:
        '?phone= -> {"files": [{"id", "dc", "size", "sha256", "parts", "big"}], "saveFilePart", "saveBigFilePart"}',
      handler: ({ query }) => {
        const value = query.get('phone');
        if (!value || !phone.safeParse(value).success)
          throw new ControlError(400, 'VALIDATION_FAILED', 'phone (digits) is required');
        const uploads = world.media.uploadsOf(userOf(value).id);
        return {
          body: {
            files: uploads.files.map(({ id, dc, size, sha256, parts, big }) => ({
              id,
              dc,
              size,
              sha256,
              parts,
              big,
            })),
            saveFilePart: uploads.calls.saveFilePart,
            saveBigFilePart: uploads.calls.saveBigFilePart,
          },
        };
      },
    },
    {
      method: 'POST',
      path: '/file-references/expire',
      description:
        'Ages every file reference handed out so far (to one account, or to all) at once: getFile and sends by id answer FILE_REFERENCE_EXPIRED until the message is fetched again.',
      bodyDoc: '{"phone"?}',
      body: z.object({ phone: phone.optional() }),
      handler: ({ body }) => {
        world.media.expireFileReferences(body.phone ? userOf(body.phone).id : undefined);
        return { body: { ok: true } };
      },
    },
  ];
}
