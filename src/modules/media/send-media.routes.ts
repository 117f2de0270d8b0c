/**
 * The upload store's routes (/uploads) and the media-sending routes (/messages/send-media,
 * /messages/send-album). Both take JSON (base64 files within MEDIA_JSON_BODY_LIMIT_BYTES, apart
 * from BODY_LIMIT_BYTES) and the first two multipart/form-data (files up to MEDIA_MAX_FILE_BYTES).
 */
import multipart from '@fastify/multipart';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorResponses, ok } from '../../lib/schemas.js';
import { assertSessionAccess } from '../../plugins/auth.js';
import { idempotencyHeaders, messageObject } from '../messages/messages.schema.js';
import type { MediaFiles } from './media-files.js';
import type { MediaSendService } from './media-send.service.js';
import { discardMultipart, multipartFile, readMultipart } from './multipart.js';
import {
  MULTIPART_BOOLEANS,
  MULTIPART_NUMBERS,
  multipartDocs,
  sendAlbumBody,
  sendMediaBody,
  uploadBody,
  uploadIdParams,
  uploadObject,
} from './send-media.schema.js';
import type { UploadStore } from './upload-store.js';

export interface MediaSendRoutesOptions {
  service: MediaSendService;
  files: MediaFiles;
  store: UploadStore;
  maxFileBytes: number;
  jsonBodyLimitBytes: number;
  uploadTtlSeconds: number;
}

const telegramErrors = errorResponses(404, 409, 413, 502, 503);
const SEND_NOTE =
  'The file comes as a multipart `file` part, base64, an http(s) `url` TeleFlow downloads, or the `uploadId` ' +
  'of POST /api/v1/uploads (sent to many chats, a file is uploaded to Telegram once per session). ' +
  'Its type is told by its bytes: 400 VALIDATION_ERROR when it does not fit `kind`, 413 PAYLOAD_TOO_LARGE above ' +
  "Telegram's limits (photos 10 MB, files 2000 MB, or the lower MEDIA_MAX_PHOTO_BYTES / MEDIA_MAX_FILE_BYTES). " +
  'With an `Idempotency-Key` header a retry within 24 hours returns the first result and sends nothing; ' +
  'sends are paced like text messages.';

export const mediaSendRoutes: FastifyPluginAsyncZod<MediaSendRoutesOptions> = async (app, opts) => {
  await app.register(multipart, { limits: { fileSize: opts.maxFileBytes } });
  const readForm = readMultipart(opts.store, opts.maxFileBytes, {
    numbers: MULTIPART_NUMBERS,
    booleans: MULTIPART_BOOLEANS,
  });
  const discard = discardMultipart(opts.store);
  app.addHook('onError', discard);
  app.addHook('onResponse', discard);
  const bodyLimit = opts.jsonBodyLimitBytes;

  app.post(
    '/uploads',
    {
      bodyLimit,
      preValidation: readForm,
      schema: {
        tags: ['media'],
        summary: 'Store a file to send later, to any number of chats',
        description:
          'multipart/form-data with a `file` part, or JSON `{url}` or `{base64, fileName, mimeType?}`. ' +
          `Stored by SHA-256 until \`expiresAt\` (MEDIA_UPLOAD_TTL, now ${opts.uploadTtlSeconds} s); ` +
          '413 PAYLOAD_TOO_LARGE over MEDIA_MAX_FILE_BYTES or when the store is full (MEDIA_STORE_MAX_BYTES).',
        body: uploadBody.meta(
          multipartDocs(uploadBody, ['url', 'base64'], 'The file; its name and type come from the part'),
        ),
        response: { 201: ok(uploadObject), ...errorResponses(413) },
      },
    },
    async (request, reply) => {
      const data = await opts.files.createUpload(request.body, multipartFile(request));
      return reply.status(201).send({ success: true as const, data });
    },
  );

  app.get(
    '/uploads/:id',
    {
      schema: {
        tags: ['media'],
        summary: 'An upload (404 UPLOAD_NOT_FOUND once it expired or was deleted)',
        params: uploadIdParams,
        response: { 200: ok(uploadObject), ...errorResponses(404) },
      },
    },
    async (request) => ({ success: true as const, data: await opts.store.get(request.params.id) }),
  );

  app.delete(
    '/uploads/:id',
    {
      schema: {
        tags: ['media'],
        summary: 'Delete an upload (its file goes when no other upload has the same bytes)',
        params: uploadIdParams,
        response: {
          200: ok(z.object({ uploadId: z.string(), deleted: z.literal(true) })),
          ...errorResponses(404),
        },
      },
    },
    async (request) => {
      await opts.store.delete(request.params.id);
      return { success: true as const, data: { uploadId: request.params.id, deleted: true as const } };
    },
  );

  app.post(
    '/messages/send-media',
    {
      bodyLimit,
      preValidation: readForm,
      schema: {
        tags: ['messages'],
        summary: 'Send a photo, video, document, audio, voice note, round video, animation or sticker',
        description: SEND_NOTE,
        headers: idempotencyHeaders,
        body: sendMediaBody.meta(
          multipartDocs(sendMediaBody, ['uploadId', 'url', 'base64'], 'The file to send'),
        ),
        response: { 200: ok(messageObject), ...telegramErrors },
      },
    },
    async (request) => {
      assertSessionAccess(request.principal, request.body.sessionId);
      const data = await opts.service.sendMedia(
        request.body,
        multipartFile(request),
        request.headers['idempotency-key'],
      );
      return { success: true as const, data };
    },
  );

  app.post(
    '/messages/send-album',
    {
      bodyLimit,
      schema: {
        tags: ['messages'],
        summary: 'Send an album of 2-10 photos and videos, or documents',
        description: `${SEND_NOTE} Each item gets its own random id: a retry sends none of them twice.`,
        headers: idempotencyHeaders,
        body: sendAlbumBody,
        response: { 200: ok(z.array(messageObject)), ...telegramErrors },
      },
    },
    async (request) => {
      assertSessionAccess(request.principal, request.body.sessionId);
      const data = await opts.service.sendAlbum(request.body, request.headers['idempotency-key']);
      return { success: true as const, data };
    },
  );
};
