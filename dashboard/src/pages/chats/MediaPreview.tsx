import '@mantine/core/styles/Image.css';
import { Anchor, Group, Image, Text } from '@mantine/core';
import { useEffect, useState } from 'react';
import { api, client, errorText, type Schemas } from '../../api/client';
import { useApi } from '../../api/useApi';

type Media = Schemas['Media'];

const PREVIEW_KINDS = new Set<Media['kind']>(['photo', 'sticker', 'animation', 'video', 'video_note']);
const PREVIEW_MAX_PX = 320;

function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} kB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** The largest thumbnail that fits the preview, or the smallest there is. */
function previewThumb(media: Media): string | undefined {
  const fitting = media.thumbnails.filter((t) => Math.max(t.width, t.height) <= PREVIEW_MAX_PX);
  const pick = fitting.length ? fitting[fitting.length - 1] : media.thumbnails[0];
  return pick?.size;
}

/**
 * An image preview, fetched with the signed-in token (an <img> cannot send it) and shown from
 * a blob: URL, released when the message leaves the page.
 */
function Thumbnail({ sessionId, media }: { sessionId: string; media: Media }) {
  const [url, setUrl] = useState<string | null>(null);
  const thumb = previewThumb(media);
  useEffect(() => {
    if (!thumb && media.kind !== 'photo') return;
    let objectUrl: string | null = null;
    let live = true;
    void client
      .GET('/api/v1/media/{mediaId}', {
        params: { path: { mediaId: media.mediaId }, query: { sessionId, thumb } },
        parseAs: 'blob',
      })
      .then(({ data }) => {
        if (!live || !(data instanceof Blob)) return;
        objectUrl = URL.createObjectURL(data);
        setUrl(objectUrl);
      })
      .catch(() => {});
    return () => {
      live = false;
      if (objectUrl) URL.revokeObjectURL(objectUrl);
    };
  }, [sessionId, media.mediaId, media.kind, thumb]);
  if (!url) return null;
  return (
    <Image
      src={url}
      alt={media.fileName ?? `${media.kind} preview`}
      maw={PREVIEW_MAX_PX}
      mah={PREVIEW_MAX_PX}
      fit="contain"
      radius="sm"
      data-testid="media-preview"
    />
  );
}

const LINK_SECONDS = 3600;

/**
 * A signed link to the file (POST /media/:id/link), renewed before it expires: it downloads
 * without credentials, so a plain link with `download` saves it (even files Telegram serves
 * inline, such as text) without leaving the dashboard.
 */
function useSignedLink(sessionId: string, mediaId: string) {
  const [renewals, setRenewals] = useState(0);
  const link = useApi(
    () =>
      api(
        client.POST('/api/v1/media/{mediaId}/link', {
          params: { path: { mediaId } },
          body: { sessionId, expiresIn: LINK_SECONDS },
        }),
      ),
    [sessionId, mediaId, renewals],
  );
  const expiresAt = link.data?.expiresAt;
  useEffect(() => {
    if (!expiresAt) return;
    const timer = setTimeout(
      () => setRenewals((n) => n + 1),
      Math.max(0, Date.parse(expiresAt) - Date.now() - 60_000),
    );
    return () => clearTimeout(timer);
  }, [expiresAt]);
  return link;
}

/** A message's file: a preview where there is one, its name and size, and a download link. */
export function MediaPreview({ sessionId, media }: { sessionId: string; media: Media }) {
  const link = useSignedLink(sessionId, media.mediaId);
  const name = media.fileName ?? media.kind;
  return (
    <div data-testid="message-media" data-media-kind={media.kind}>
      {PREVIEW_KINDS.has(media.kind) && <Thumbnail sessionId={sessionId} media={media} />}
      <Group gap="xs" mt={4}>
        <Text size="xs">
          {name} · {formatSize(media.size)}
        </Text>
        {link.data ? (
          <Anchor
            href={link.data.url}
            download={media.fileName ?? ''}
            size="xs"
            aria-label={`Download ${name}`}
            data-testid="media-download"
          >
            Download
          </Anchor>
        ) : link.error ? (
          <Text size="xs" c="red" role="alert">
            {errorText(link.error)}
          </Text>
        ) : null}
      </Group>
    </div>
  );
}
