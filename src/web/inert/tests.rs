//! The sanitizer against every hostile fixture (tests/fixtures/hostile), and its edge cases.
//! The same fixtures are loaded in a real browser by tests/integration/browser.rs.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::markup::{self, Tag};
use super::*;

/// What `{{CANARY}}` becomes here; the browser tests put a live server's address there.
const CANARY: &str = "canary.test:7";

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hostile")
}

/// Every fixture with the text it must still show, from visible.tsv.
fn fixtures() -> Vec<(String, Vec<u8>, String)> {
    let table = std::fs::read_to_string(fixture_dir().join("visible.tsv")).expect("read visible.tsv");
    let visible: BTreeMap<String, String> = table
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (name, text) = l.split_once('\t').unwrap_or_else(|| panic!("visible.tsv: no tab in `{l}`"));
            (name.to_string(), text.to_string())
        })
        .collect();
    let mut on_disk: Vec<String> = std::fs::read_dir(fixture_dir())
        .expect("read fixture dir")
        .map(|e| e.expect("dir entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".eml"))
        .collect();
    on_disk.sort();
    assert_eq!(on_disk, visible.keys().cloned().collect::<Vec<_>>(), "every fixture needs a visible.tsv row, and each row a fixture");
    on_disk
        .into_iter()
        .map(|name| {
            let raw = std::fs::read_to_string(fixture_dir().join(&name)).expect("read fixture");
            let text = visible[&name].clone();
            (name, raw.replace("{{CANARY}}", CANARY).into_bytes(), text)
        })
        .collect()
}

fn doc_tags(doc: &str) -> Vec<Tag<'_>> {
    markup::tags(doc).unwrap_or_else(|e| panic!("our document is not serializer-shaped at {}: {doc}", e.0))
}

/// The document's text as a reader sees it: tags removed, entities decoded, spaces collapsed.
fn visible_text(doc: &str) -> String {
    let body = &doc[doc.find("<body>").expect("a body")..];
    let starts = doc_tags(body);
    let mut starts = starts.iter().peekable();
    let mut text = String::new();
    let mut i = 0;
    while let Some(c) = body[i..].chars().next() {
        if let Some(tag) = starts.next_if(|t| t.start == i) {
            i = tag.end;
        } else if body[i..].starts_with("</") {
            i += body[i..].find('>').map_or(body.len() - i, |j| j + 1);
        } else {
            text.push(c);
            i += c.len_utf8();
            continue;
        }
        text.push(' ');
    }
    let text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&nbsp;", " ").replace("&amp;", "&");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

const OUR_TAGS: [&str; 5] = ["html", "head", "meta", "style", "body"];
const ALLOWED_TAGS: [&str; 59] = [
    "a", "abbr", "b", "bdi", "bdo", "blockquote", "br", "caption", "center", "cite", "code", "col", "colgroup",
    "dd", "del", "dfn", "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "samp", "small", "span",
    "strike", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "tt", "u", "ul",
    "var", "wbr",
];
/// Attributes that load or navigate, or carry CSS: none may survive, whatever the element.
const NEVER: [&str; 12] =
    ["style", "srcset", "background", "poster", "action", "formaction", "ping", "data", "xlink:href", "target", "srcdoc", "content"];

/// Everything the fixtures try must be gone; returns the document for further checks.
fn assert_inert(name: &str, shown: &Shown) {
    let doc = &shown.document;
    let lower = doc.to_ascii_lowercase();
    for needle in ["javascript:", "vbscript:", "data:", "<script", "<form", "<input", "<button", "<iframe", "<svg", "<math", "<base", "<link", "expression("] {
        assert!(!lower.contains(needle), "{name}: `{needle}` in\n{doc}");
    }
    assert_eq!(lower.matches("<style").count(), 1, "{name}: only our stylesheet\n{doc}");
    assert_eq!(lower.matches("<meta").count(), 2, "{name}: only our meta charset and referrer\n{doc}");
    for tag in doc_tags(doc) {
        assert!(ALLOWED_TAGS.contains(&tag.name) || OUR_TAGS.contains(&tag.name), "{name}: <{}> in\n{doc}", tag.name);
        for (attr, value) in &tag.attrs {
            assert!(!attr.starts_with("on"), "{name}: event handler {attr} on <{}>", tag.name);
            assert!(!NEVER.contains(attr) || (tag.name == "meta" && *attr == "content"), "{name}: {attr} on <{}>", tag.name);
            if *attr == "href" {
                assert_eq!(tag.name, "a", "{name}: href on <{}>", tag.name);
                assert!(["http://", "https://", "mailto:"].iter().any(|s| value.starts_with(s)), "{name}: link to `{value}`");
            }
            if *attr == "src" {
                assert_eq!(tag.name, "img", "{name}: src on <{}>", tag.name);
            }
        }
        if tag.name == "a" && tag.attr("href").is_some() {
            assert_eq!(tag.attr("rel"), Some("noopener noreferrer nofollow"), "{name}: link without rel");
        }
    }
}

#[test]
fn every_hostile_fixture_is_inert_and_still_readable() {
    for (name, raw, text) in fixtures() {
        let shown = frame_document(&raw, RemoteImages::Blocked);
        assert!(shown.had_html, "{name}: has an HTML part");
        assert_inert(&name, &shown);
        let doc = &shown.document;
        // Blocked: no image element at all (remote ones are placeholders, others are gone).
        assert!(!doc.contains("<img"), "{name}: an image survived\n{doc}");
        // The canary's address (with its port) may remain only as a link target, which the
        // embedding page's frame-src keeps from being followed.
        let without_links: String = doc_tags(doc)
            .iter()
            .filter_map(|t| t.attr("href"))
            .fold(doc.clone(), |d, href| d.replace(href, ""));
        assert!(!without_links.contains(CANARY), "{name}: the canary's address outside a link\n{doc}");
        assert!(visible_text(doc).contains(&text), "{name}: `{text}` is not visible in\n{}", visible_text(doc));
        // Allowed changes images only; everything else is just as inert.
        assert_inert(&name, &frame_document(&raw, RemoteImages::Allowed));
    }
}

#[test]
fn blocked_images_are_counted_per_fixture() {
    // Only http/https `src` counts: what "Show images" would load. srcset, <picture>
    // sources, relative and protocol-relative URLs are never loaded, so never counted.
    let expected = BTreeMap::from([("comments.eml", 2), ("remote-image.eml", 1), ("tracking-pixel.eml", 3)]);
    for (name, raw, _) in fixtures() {
        let shown = frame_document(&raw, RemoteImages::Blocked);
        let want = expected.get(name.as_str()).copied().unwrap_or(0);
        assert_eq!(shown.blocked_images, want, "{name}\n{}", shown.document);
        assert_eq!(shown.document.matches("[image blocked: canary.test]").count(), want, "{name}\n{}", shown.document);
        assert_eq!(frame_document(&raw, RemoteImages::Allowed).blocked_images, 0, "{name}");
    }
}

#[test]
fn allowed_keeps_the_remote_image_and_blocked_shows_a_placeholder() {
    let (_, raw, _) = fixtures().into_iter().find(|(n, _, _)| n == "remote-image.eml").expect("remote-image.eml");
    let allowed = frame_document(&raw, RemoteImages::Allowed);
    assert!(
        allowed.document.contains(r#"<img src="http://canary.test:7/remote-image/logo.png" alt="Pasticceria Moretti" width="120" height="40">"#),
        "{}",
        allowed.document
    );
    let blocked = frame_document(&raw, RemoteImages::Blocked);
    assert!(
        blocked.document.contains(r#"<span class="sy-image">[image blocked: canary.test] Pasticceria Moretti</span>"#),
        "{}",
        blocked.document
    );
}

fn html_message(html: &str) -> Vec<u8> {
    format!(
        "From: Giulia Rossi <giulia.rossi@posta.example>\r\nSubject: Bolletta\r\nMessage-ID: <t@posta.example>\r\n\
         Content-Type: text/html; charset=utf-8\r\n\r\n{html}"
    )
    .into_bytes()
}

#[test]
fn image_attributes_keep_their_escaping() {
    let raw = html_message(r#"<img src="https://img.example/a.png?x=1&amp;y=&quot;2" alt='"Tom" & <Jerry>'>"#);
    let blocked = frame_document(&raw, RemoteImages::Blocked);
    assert!(blocked.document.contains("[image blocked: img.example] &quot;Tom&quot; &amp; &lt;Jerry&gt;</span>"), "{}", blocked.document);
    let allowed = frame_document(&raw, RemoteImages::Allowed);
    assert!(allowed.document.contains(r#"src="https://img.example/a.png?x=1&amp;y=&quot;2""#), "{}", allowed.document);
    assert!(allowed.document.contains(r#"alt="&quot;Tom&quot; &amp; &lt;Jerry&gt;""#), "{}", allowed.document);
}

#[test]
fn inline_images_are_dropped_and_not_counted() {
    let raw = html_message(r#"<p>Foto</p><img src="cid:meter@posta.example" alt="contatore"><img src="data:image/png;base64,iVBORw0KGgo=">"#);
    let shown = frame_document(&raw, RemoteImages::Allowed);
    assert_eq!(shown.blocked_images, 0);
    assert!(!shown.document.contains("<img"), "{}", shown.document);
    assert!(shown.document.contains("[image not shown] contatore"), "{}", shown.document);
}

#[test]
fn links_keep_only_safe_targets() {
    let raw = html_message(
        r#"<a href="https://aurora.example/tariffe" target="_blank">tariffe</a> <a href="/messages/1/approve">rel</a>
           <a href="//evil.example/x">proto</a> <a href="mailto:a@posta.example">mail</a> <a href="tel:+39061234">tel</a>"#,
    );
    let doc = frame_document(&raw, RemoteImages::Blocked).document;
    assert!(doc.contains(r#"<a href="https://aurora.example/tariffe" rel="noopener noreferrer nofollow">tariffe</a>"#), "{doc}");
    assert!(doc.contains(r#"<a href="mailto:a@posta.example" rel="noopener noreferrer nofollow">mail</a>"#), "{doc}");
    // A relative link would resolve against our own origin.
    for gone in ["/messages/1/approve", "evil.example", "tel:", "_blank"] {
        assert!(!doc.contains(gone), "{gone} in {doc}");
    }
    assert!(visible_text(&doc).contains("tariffe rel proto mail tel"), "{doc}");
}

#[test]
fn plain_text_is_escaped_in_a_pre() {
    let raw = b"From: a@posta.example\r\nSubject: x\r\n\r\nLa bolletta <script>alert(1)</script> & \"altro\"\r\n";
    let shown = frame_document(raw, RemoteImages::Blocked);
    assert!(!shown.had_html);
    assert!(
        shown.document.contains("<pre class=\"sy-text\">La bolletta &lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;altro&quot;"),
        "{}",
        shown.document
    );
}

#[test]
fn html_and_text_alternatives_prefer_html() {
    let raw = b"From: a@posta.example\r\nSubject: x\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n\
        --b\r\nContent-Type: text/plain\r\n\r\nplain words\r\n--b\r\nContent-Type: text/html\r\n\r\n<p><b>html</b> words</p>\r\n--b--\r\n";
    let shown = frame_document(raw, RemoteImages::Blocked);
    assert!(shown.had_html);
    assert!(shown.document.contains("<p><b>html</b> words</p>"), "{}", shown.document);
}

#[test]
fn bytes_that_are_not_mail_are_shown_as_text() {
    let shown = frame_document(b"<img src=x onerror=alert(1)>", RemoteImages::Allowed);
    assert!(!shown.had_html);
    assert!(shown.document.contains("&lt;img src=x onerror=alert(1)&gt;"), "{}", shown.document);
}

#[test]
fn the_policy_lets_only_our_stylesheet_run() {
    let blocked = frame_csp(RemoteImages::Blocked);
    let allowed = frame_csp(RemoteImages::Allowed);
    for csp in [blocked, allowed] {
        for part in ["default-src 'none'", "form-action 'none'", "base-uri 'none'", "frame-ancestors 'self'", "sandbox"] {
            assert!(csp.split("; ").any(|d| d == part), "`{part}` missing from {csp}");
        }
        assert!(!csp.contains("unsafe"), "{csp}");
        let hash = format!("'sha256-{}'", base64(&Sha256::digest(STYLE.as_bytes())));
        assert!(csp.contains(&format!("style-src {hash}")), "{csp}");
    }
    assert!(!blocked.contains("img-src"), "{blocked}");
    assert!(allowed.ends_with("; img-src http: https:"), "{allowed}");
    let doc = frame_document(&html_message("<p>x</p>"), RemoteImages::Blocked).document;
    assert!(doc.contains(&format!("<style>{STYLE}</style>")), "the hashed text is exactly what we serve");
    assert!(frame_headers(RemoteImages::Blocked).contains(&("content-security-policy", blocked)));
}

#[test]
fn base64_matches_rfc_4648() {
    for (input, want) in [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")] {
        assert_eq!(base64(input.as_bytes()), want);
    }
    assert_eq!(base64(&[0xfb, 0xff, 0xfe]), "+//+");
}

#[test]
fn markup_reader_follows_the_serializer() {
    let html = r#"<p class="a>b">x &lt;y&gt;</p><!-- c --><br><img src="s" alt=""><hr/>"#;
    let tags = markup::tags(html).expect("well formed");
    let names: Vec<&str> = tags.iter().map(|t| t.name).collect();
    assert_eq!(names, ["p", "br", "img", "hr"]);
    assert_eq!(tags[0].attr("class"), Some("a>b"));
    assert_eq!(tags[2].attr("alt"), Some(""));
    assert_eq!(&html[tags[2].start..tags[2].end], r#"<img src="s" alt="">"#);
    assert!(markup::tags("<p class=unquoted>").is_err());
    assert!(markup::tags("<p title=\"open").is_err());
}

