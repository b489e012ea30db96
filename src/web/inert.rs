//! Showing a customer's message to staff without letting it act: the message's HTML, sanitized,
//! as a complete document for a sandboxed `<iframe>`, with the headers that keep it inert.
//!
//! Three layers, each meant to hold on its own (README "Customer HTML is inert"):
//! - the sanitizer (ammonia, our allowlist): no scripts, handlers, styles, forms, frames,
//!   SVG, `<base>`, `<meta>`, `<link>`; links only to http, https and mailto; remote images
//!   replaced by a visible placeholder unless staff asked for them;
//! - the document's Content-Security-Policy: nothing loads but our own stylesheet (and, on
//!   request, images), no form posts, no `<base>`, and `sandbox` even when opened on its own;
//! - the embedding page (the web queue's): `<iframe sandbox>` in a page whose policy has
//!   `script-src 'none'` and `frame-src 'self'`, the one layer that stops a clicked link.

use std::collections::HashSet;
use std::sync::LazyLock;

use ammonia::{Builder, Url, UrlRelative};
use mail_parser::MessageParser;
use sha2::{Digest, Sha256};

/// Whether the frame may load the message's remote (http, https) images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteImages {
    /// Replaced by `[image blocked: host]`: loading them would tell the sender the message
    /// was read, when, and from which address.
    Blocked,
    /// Staff asked to see them ("Show images").
    Allowed,
}

/// The message as staff see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    /// A complete HTML document (UTF-8), to be served with [`frame_headers`].
    pub document: String,
    /// Remote images replaced by a placeholder: what [`RemoteImages::Allowed`] would load.
    /// Inline images (`cid:`, `data:`) are never shown and not counted.
    pub blocked_images: usize,
    /// The message had an HTML part; `false` means its plain text is shown.
    pub had_html: bool,
}

/// Our own stylesheet: the only CSS the frame's policy lets run (by its hash).
const STYLE: &str = "body{margin:0;padding:12px 16px;font:15px/1.5 system-ui,sans-serif;color:#1b1b1b;\
background:#fff;overflow-wrap:anywhere}img{max-width:100%;height:auto}\
pre.sy-text{white-space:pre-wrap;font:inherit;margin:0}\
.sy-image{display:inline-block;margin:2px 0;padding:0 6px;border:1px dashed #888;color:#555;font-size:13px}\
table{border-collapse:collapse;max-width:100%}td,th{vertical-align:top}\
blockquote{margin:0 0 0 6px;padding-left:10px;border-left:3px solid #ccc;color:#444}";

/// The customer's message as a complete HTML document for a sandboxed `<iframe>`.
///
/// The first HTML part is sanitized; without one, the first text part is shown as escaped
/// preformatted text. Bytes that are not a message at all are shown as text, so staff can
/// still see what arrived.
pub fn frame_document(raw_message: &[u8], images: RemoteImages) -> Shown {
    let parsed = MessageParser::default().parse(raw_message);
    // The same test as the parse stage: without one header field of a mail, it is not one.
    let Some(message) = parsed.filter(crate::pipeline::parse::looks_like_mail) else {
        return text_document(&String::from_utf8_lossy(raw_message));
    };
    // body_html(0) also converts a text part to HTML; only a real text/html part counts.
    let html = message.html_part(0).filter(|part| part.is_text_html()).and_then(|_| message.body_html(0));
    match html {
        Some(html) => match sanitize(&html, images) {
            Ok((body, blocked_images)) => Shown { document: wrap(&body), blocked_images, had_html: true },
            // Not reachable with ammonia's serializer; if it ever is, the text is still safe.
            Err(_) => text_document(&message.body_text(0).unwrap_or_default()),
        },
        None => text_document(&message.body_text(0).unwrap_or_default()),
    }
}

/// The Content-Security-Policy header value served with [`frame_document`]'s document.
///
/// `default-src 'none'` blocks every fetch (scripts, frames, fonts, CSS `url()`, `@import`,
/// `<link>`, media, `ping`, prefetch); our stylesheet runs by hash, so no style of the
/// sender's does, even if the sanitizer missed one; `sandbox` applies the iframe sandbox
/// even when the document is opened on its own; `frame-ancestors 'self'` keeps other sites
/// from framing it.
pub fn frame_csp(images: RemoteImages) -> &'static str {
    match images {
        RemoteImages::Blocked => &CSP_BLOCKED,
        RemoteImages::Allowed => &CSP_ALLOWED,
    }
}

/// Every header to serve with the frame document, the policy included.
pub fn frame_headers(images: RemoteImages) -> [(&'static str, &'static str); 6] {
    [
        ("content-type", "text/html; charset=utf-8"),
        ("content-security-policy", frame_csp(images)),
        // Without nosniff a browser may guess another type for the body.
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        // A customer's message is personal data: not kept in shared or disk caches.
        ("cache-control", "no-store"),
        ("cross-origin-resource-policy", "same-origin"),
    ]
}

static CSP_BLOCKED: LazyLock<String> = LazyLock::new(|| csp(None));
static CSP_ALLOWED: LazyLock<String> = LazyLock::new(|| csp(Some("img-src http: https:")));

fn csp(images: Option<&str>) -> String {
    let style = format!("'sha256-{}'", base64(&Sha256::digest(STYLE.as_bytes())));
    let mut policy = format!(
        "default-src 'none'; style-src {style}; form-action 'none'; base-uri 'none'; \
         frame-ancestors 'self'; sandbox"
    );
    if let Some(images) = images {
        policy.push_str("; ");
        policy.push_str(images);
    }
    policy
}

fn wrap(body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><meta name=\"referrer\" content=\"no-referrer\">\
         <style>{STYLE}</style></head>\n<body>{body}</body></html>\n"
    )
}

fn text_document(text: &str) -> Shown {
    let body = format!("<pre class=\"sy-text\">{}</pre>", escape_text(text));
    Shown { document: wrap(&body), blocked_images: 0, had_html: false }
}

/// ammonia with our allowlist, built once.
static SANITIZER: LazyLock<Builder<'static>> = LazyLock::new(sanitizer);

fn sanitizer() -> Builder<'static> {
    let mut b = Builder::empty();
    b.add_tags([
        "a", "abbr", "b", "bdi", "bdo", "blockquote", "br", "caption", "center", "cite", "code", "col",
        "colgroup", "dd", "del", "dfn", "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3",
        "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s",
        "samp", "small", "span", "strike", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th",
        "thead", "tr", "tt", "u", "ul", "var", "wbr",
    ]);
    // Dropped with everything inside: their content is code, or a fallback for something we
    // never show. Any other tag not allowed is unwrapped, so its text stays visible.
    b.clean_content_tags(HashSet::from([
        "script", "style", "title", "template", "svg", "math", "iframe", "frame", "frameset", "object",
        "embed", "applet", "noembed", "noframes", "noscript", "xmp", "select", "textarea", "audio", "video",
    ]));
    b.generic_attributes(HashSet::from(["lang", "title", "dir"]));
    let cells = HashSet::from(["align", "valign", "colspan", "rowspan", "width"]);
    b.tag_attributes(
        [
            ("a", HashSet::from(["href", "hreflang"])),
            ("img", HashSet::from(["src", "alt", "width", "height"])),
            ("table", HashSet::from(["align", "width", "border", "cellpadding", "cellspacing"])),
            ("td", cells.clone()),
            ("th", cells),
            ("col", HashSet::from(["span", "width"])),
            ("colgroup", HashSet::from(["span", "width"])),
            ("ol", HashSet::from(["start", "type"])),
            ("li", HashSet::from(["value"])),
        ]
        .into(),
    );
    b.url_schemes(HashSet::from(["http", "https", "mailto"]));
    // A relative URL would resolve against our own origin: a link or image could then make
    // a staff member's browser request one of our pages.
    b.url_relative(UrlRelative::Deny);
    b.link_rel(Some("noopener noreferrer nofollow"));
    b.strip_comments(true);
    b
}

/// Sanitizes `html` and then settles every `<img>`: kept (Allowed, http/https) or replaced
/// by a visible placeholder. Returns the body and how many remote images were blocked.
fn sanitize(html: &str, images: RemoteImages) -> Result<(String, usize), markup::Malformed> {
    let clean = SANITIZER.clean(html).to_string();
    let mut out = String::with_capacity(clean.len());
    let mut blocked = 0;
    let mut at = 0;
    for tag in markup::tags(&clean)? {
        if tag.name != "img" {
            continue;
        }
        out.push_str(&clean[at..tag.start]);
        at = tag.end;
        match (remote_host(&tag), images) {
            (Some(_), RemoteImages::Allowed) => out.push_str(&rebuilt_img(&tag)),
            (Some(host), RemoteImages::Blocked) => {
                blocked += 1;
                out.push_str(&placeholder(&format!("image blocked: {host}"), tag.attr("alt")));
            }
            (None, _) => out.push_str(&placeholder("image not shown", tag.attr("alt"))),
        }
    }
    out.push_str(&clean[at..]);
    Ok((out, blocked))
}

/// The host of an image's http/https `src`; `None` for anything else (ammonia has already
/// removed other schemes and relative URLs, so that is an image without a source).
fn remote_host(tag: &markup::Tag) -> Option<String> {
    let url = Url::parse(&markup::unescape_attr(tag.attr("src")?)).ok()?;
    matches!(url.scheme(), "http" | "https").then(|| url.host_str().unwrap_or("?").to_string())
}

/// The image again with only the attributes we allow: ammonia's output is already limited
/// to them, and rebuilding keeps it so if that list ever grows.
fn rebuilt_img(tag: &markup::Tag) -> String {
    let mut img = String::from("<img");
    for name in ["src", "alt", "width", "height"] {
        if let Some(value) = tag.attr(name) {
            // Values are still escaped exactly as the serializer wrote them.
            img.push_str(&format!(" {name}=\"{value}\""));
        }
    }
    img.push('>');
    img
}

fn placeholder(what: &str, alt: Option<&str>) -> String {
    let alt = alt.map(markup::unescape_attr).filter(|a| !a.trim().is_empty());
    let alt = alt.map(|a| format!(" {}", escape_text(&a))).unwrap_or_default();
    format!("<span class=\"sy-image\">[{}]{alt}</span>", escape_text(what))
}

fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

/// Standard base64 with padding (RFC 4648), for the stylesheet's hash in the policy.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Reading back the markup ammonia serialized. html5ever's serializer always writes
/// `<name attr="value">`, escapes `&`, `"`, `<`, `>` and no-break space in values, and `&`,
/// `<`, `>` in text; no raw-text element (script, style) survives our allowlist. So every `<` starts a
/// tag or a comment, and every value ends at the next `"`.
pub(crate) mod markup {
    /// Markup that does not have the serializer's shape.
    #[derive(Debug, PartialEq, Eq)]
    pub struct Malformed(pub usize);

    #[derive(Debug)]
    pub struct Tag<'a> {
        /// Byte range of the whole tag, `<` to `>` inclusive.
        pub start: usize,
        pub end: usize,
        /// Lower case; end tags are not listed.
        pub name: &'a str,
        /// Name and value, the value as written (still escaped).
        pub attrs: Vec<(&'a str, &'a str)>,
    }

    impl<'a> Tag<'a> {
        pub fn attr(&self, name: &str) -> Option<&'a str> {
            self.attrs.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
        }
    }

    /// Every start tag in serialized markup, in order.
    pub fn tags(html: &str) -> Result<Vec<Tag<'_>>, Malformed> {
        let mut tags = Vec::new();
        let mut at = 0;
        while let Some(offset) = html[at..].find('<') {
            let start = at + offset;
            let rest = &html[start + 1..];
            if rest.starts_with('/') || rest.starts_with('!') {
                at = start + 1 + rest.find('>').ok_or(Malformed(start))? + 1;
                continue;
            }
            let tag = start_tag(html, start)?;
            at = tag.end;
            tags.push(tag);
        }
        Ok(tags)
    }

    fn start_tag(html: &str, start: usize) -> Result<Tag<'_>, Malformed> {
        let bytes = html.as_bytes();
        let name_end = scan(bytes, start + 1, |b| b.is_ascii_alphanumeric() || b == b'-' || b == b':');
        if name_end == start + 1 {
            return Err(Malformed(start));
        }
        let mut attrs = Vec::new();
        let mut i = name_end;
        loop {
            i = scan(bytes, i, |b| b == b' ');
            match bytes.get(i) {
                Some(b'>') => break,
                Some(b'/') if bytes.get(i + 1) == Some(&b'>') => {
                    i += 1;
                    break;
                }
                Some(_) => {}
                None => return Err(Malformed(start)),
            }
            let name_start = i;
            i = scan(bytes, i, |b| !matches!(b, b'=' | b' ' | b'>' | b'"' | b'/'));
            if i == name_start {
                return Err(Malformed(i));
            }
            let name = &html[name_start..i];
            if bytes.get(i) != Some(&b'=') {
                attrs.push((name, ""));
                continue;
            }
            if bytes.get(i + 1) != Some(&b'"') {
                return Err(Malformed(i));
            }
            let value_start = i + 2;
            let value_end = value_start + html[value_start..].find('"').ok_or(Malformed(i))?;
            attrs.push((name, &html[value_start..value_end]));
            i = value_end + 1;
        }
        Ok(Tag { start, end: i + 1, name: &html[start + 1..name_end], attrs })
    }

    fn scan(bytes: &[u8], mut i: usize, keep: impl Fn(u8) -> bool) -> usize {
        while i < bytes.len() && keep(bytes[i]) {
            i += 1;
        }
        i
    }

    /// An attribute value as the serializer escaped it, back to its text (`&amp;` last, so
    /// `&amp;lt;` stays `&lt;`).
    pub fn unescape_attr(value: &str) -> String {
        value
            .replace("&quot;", "\"")
            .replace("&nbsp;", "\u{a0}")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    }
}

#[cfg(test)]
mod tests;
