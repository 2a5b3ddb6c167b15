// A small, safe markdown renderer for model replies. Safety comes first: the whole text is HTML-escaped before any
// markup is recognised, so nothing the model writes can become a tag or attribute; links only allow http(s).
// Covers what replies use: fenced code, inline code, bold, italic, links, headings, lists, quotes, paragraphs.

const escapes = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (s) => s.replace(/[&<>"']/g, (c) => escapes[c]);

function inline(escaped) {
  const codes = [];
  let s = escaped.replace(/`([^`\n]+)`/g, (_, code) => `\u0000${codes.push(code) - 1}\u0000`);
  s = s
    .replace(/\*\*([^*\n]+)\*\*/g, '<strong>$1</strong>')
    .replace(/(^|[^*\w])\*([^*\n]+)\*(?!\w)/g, '$1<em>$2</em>')
    .replace(/(^|[^_\w])_([^_\n]+)_(?!\w)/g, '$1<em>$2</em>')
    .replace(/\[([^\]\n]+)\]\((https?:\/\/[^\s)]+)\)/g, '<a href="$2" target="_blank" rel="noopener noreferrer">$1</a>');
  return s.replace(/\u0000(\d+)\u0000/g, (_, i) => `<code>${codes[i]}</code>`);
}

export function renderMarkdown(source) {
  const lines = escapeHtml(source).split('\n');
  const html = [];
  let paragraph = [], list = null, code = null;
  const flushParagraph = () => {
    if (paragraph.length) html.push(`<p>${inline(paragraph.join('<br>'))}</p>`);
    paragraph = [];
  };
  const flushList = () => {
    if (list) html.push(`<${list.tag}>${list.items.map((i) => `<li>${inline(i)}</li>`).join('')}</${list.tag}>`);
    list = null;
  };
  for (const line of lines) {
    if (code) {
      if (/^```/.test(line)) {
        html.push(`<pre><code${code.lang ? ` data-lang="${code.lang}"` : ''}>${code.lines.join('\n')}</code></pre>`);
        code = null;
      } else {
        code.lines.push(line);
      }
      continue;
    }
    let m;
    if ((m = /^```\s*([\w+-]*)/.exec(line))) {
      flushParagraph(); flushList();
      code = { lang: m[1], lines: [] };
    } else if ((m = /^(#{1,4})\s+(.*)$/.exec(line))) {
      flushParagraph(); flushList();
      const level = m[1].length + 2; // h3..h6: replies sit inside a page
      html.push(`<h${level}>${inline(m[2])}</h${level}>`);
    } else if ((m = /^\s*([-*+]|\d+[.)])\s+(.*)$/.exec(line))) {
      flushParagraph();
      const tag = /\d/.test(m[1]) ? 'ol' : 'ul';
      if (list && list.tag !== tag) flushList();
      list ??= { tag, items: [] };
      list.items.push(m[2]);
    } else if ((m = /^&gt;\s?(.*)$/.exec(line))) {
      flushParagraph(); flushList();
      html.push(`<blockquote>${inline(m[1])}</blockquote>`);
    } else if (!line.trim()) {
      flushParagraph(); flushList();
    } else {
      flushList();
      paragraph.push(line);
    }
  }
  if (code) html.push(`<pre><code>${code.lines.join('\n')}</code></pre>`); // still streaming: show it open
  flushParagraph(); flushList();
  return html.join('');
}
