import { describe, expect, it } from 'vitest';
import { escapeHtml, renderMarkdown } from './markdown.js';

const dom = (html: string) => {
  const box = document.createElement('div');
  box.innerHTML = html;
  return box;
};

describe('renderMarkdown', () => {
  it('renders the markdown a reply uses', () => {
    const box = dom(renderMarkdown('# Title\n\n**bold** and *it* and `code`\n\n- one\n- two\n\n```js\nlet a = 1 < 2;\n```\n\n> quoted'));
    expect(box.querySelector('h1')?.textContent).toBe('Title');
    expect(box.querySelector('strong')?.textContent).toBe('bold');
    expect(box.querySelector('em')?.textContent).toBe('it');
    expect(box.querySelectorAll('li')).toHaveLength(2);
    expect(box.querySelector('pre code')?.textContent).toBe('let a = 1 < 2;\n');
    expect(box.querySelector('blockquote')?.textContent?.trim()).toBe('quoted');
  });

  it('renders an open code fence while a reply streams', () => {
    const box = dom(renderMarkdown('Here:\n```\nstill typing'));
    expect(box.querySelector('pre code')?.textContent).toContain('still typing');
  });

  it('removes scripts, event handlers, styles, forms and images', () => {
    const html = renderMarkdown('<script>alert(1)</script><img src=x onerror="alert(2)"><b onclick="alert(3)">b</b>'
      + '<style>body{display:none}</style><form action="/x"><input name=a></form><iframe src="https://example.org"></iframe>');
    const box = dom(html);
    expect(box.querySelector('script, img, style, form, input, iframe')).toBeNull();
    expect(html).not.toMatch(/onerror|onclick|alert/);
    expect(box.querySelector('b')?.textContent).toBe('b');
  });

  it('keeps http(s) and mailto links, opening in a new tab without access to the page', () => {
    const box = dom(renderMarkdown('[docs](https://example.org/a) [mail](mailto:a@example.org)'));
    const links = [...box.querySelectorAll('a')];
    expect(links.map((a) => a.getAttribute('href'))).toEqual(['https://example.org/a', 'mailto:a@example.org']);
    for (const a of links) {
      expect(a.getAttribute('target')).toBe('_blank');
      expect(a.getAttribute('rel')).toBe('noopener noreferrer');
    }
  });

  it('drops javascript:, data: and relative link targets', () => {
    const box = dom(renderMarkdown('[a](javascript:alert(1)) [b](data:text/html,<b>x</b>) [c](/rest/sessions) <a href="JaVaScRiPt:alert(1)">d</a>'));
    const links = [...box.querySelectorAll('a')];
    expect(links.map((a) => a.textContent)).toEqual(['a', 'b', 'c', 'd']);
    for (const a of links) expect(a.getAttributeNames()).toEqual([]);
  });

  it('allows no attribute a model could use to restyle or spoof the page', () => {
    const box = dom(renderMarkdown('<p class="msg note" id="send" style="position:fixed">fake</p>'));
    const p = box.querySelector('p')!;
    expect(p.getAttributeNames()).toEqual([]);
  });
});

describe('escapeHtml', () => {
  it('escapes the five characters that matter in HTML', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });
});
