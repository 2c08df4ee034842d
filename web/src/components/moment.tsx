import { localTime } from '../format';

/** A server timestamp in the reader's time zone, with the exact UTC value on hover. */
export function Moment({ iso }: { iso: string }) {
  return (
    <time dateTime={iso} title={iso}>
      {localTime(iso)}
    </time>
  );
}
