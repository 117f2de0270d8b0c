import '@mantine/core/styles/Image.css';
import { Button, Group, Image, Text } from '@mantine/core';
import { useEffect, useState } from 'react';
import { api, client, type Schemas } from '../../api/client';
import { useAction } from '../../api/useAction';

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

/** A message's file: a preview where there is one, its name and size, and a download. */
export function MediaPreview({ sessionId, media }: { sessionId: string; media: Media }) {
  const { run, busy, error } = useAction();
  const download = () =>
    void run(async () => {
      // A signed link downloads without credentials, so the browser can fetch it as a file.
      const link = await api(
        client.POST('/api/v1/media/{mediaId}/link', {
          params: { path: { mediaId: media.mediaId } },
          body: { sessionId, expiresIn: 300 },
        }),
      );
      window.location.assign(link.url);
    });
  return (
    <div data-testid="message-media" data-media-kind={media.kind}>
      {PREVIEW_KINDS.has(media.kind) && <Thumbnail sessionId={sessionId} media={media} />}
      <Group gap="xs" mt={4}>
        <Text size="xs">
          {media.fileName ?? media.kind} · {formatSize(media.size)}
        </Text>
        <Button
          size="compact-xs"
          variant="default"
          loading={busy}
          onClick={download}
          aria-label={`Download ${media.fileName ?? media.kind}`}
          data-testid="media-download"
        >
          Download
        </Button>
      </Group>
      {error && (
        <Text size="xs" c="red" role="alert">
          {error}
        </Text>
      )}
    </div>
  );
}
