/** Just enough TwiML reading for the caller: the `<Stream>` URL, its Parameters, a `<Dial>` target. */

export interface ParsedTwiml {
  readonly streamUrl: string | undefined;
  readonly parameters: Record<string, string>;
  readonly dial: string | undefined;
  readonly say: string | undefined;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

export function unescapeXml(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (whole, ref: string) => {
    if (ref.startsWith('#x')) return String.fromCodePoint(parseInt(ref.slice(2), 16));
    if (ref.startsWith('#')) return String.fromCodePoint(parseInt(ref.slice(1), 10));
    return ENTITIES[ref] ?? whole;
  });
}

function attrs(tag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of tag.matchAll(/([A-Za-z_:][\w.:-]*)\s*=\s*"([^"]*)"/g))
    out[m[1] as string] = unescapeXml(m[2] as string);
  return out;
}

function text(xml: string, tag: string): string | undefined {
  const m = new RegExp(`<${tag}(?:\\s[^>]*)?>([^<]*)</${tag}>`).exec(xml);
  return m ? unescapeXml(m[1] as string) : undefined;
}

// Attribute values may contain a literal '>', so a tag ends only outside quotes.
const ATTRS = '((?:\\s+[A-Za-z_:][\\w.:-]*\\s*=\\s*"[^"]*")*)\\s*\\/?>';

export function parseTwiml(xml: string): ParsedTwiml {
  const stream = new RegExp(`<Stream${ATTRS}`).exec(xml);
  const parameters: Record<string, string> = {};
  for (const m of xml.matchAll(new RegExp(`<Parameter${ATTRS}`, 'g'))) {
    const a = attrs(m[1] ?? '');
    if (a.name !== undefined) parameters[a.name] = a.value ?? '';
  }
  return {
    streamUrl: stream ? attrs(stream[1] ?? '').url : undefined,
    parameters,
    dial: text(xml, 'Dial'),
    say: text(xml, 'Say'),
  };
}
