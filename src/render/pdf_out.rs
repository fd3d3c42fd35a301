//! The PDF file of an invoice, written directly.
//!
//! Production writes thousands of invoices with the same two fonts, so the
//! expensive part of a PDF — the embedded font programs, subset, compressed,
//! with their width tables and ToUnicode maps — is built once per process for
//! a fixed character set ([`base_chars`]: printable ASCII, `£`, `€`, and
//! common typographic punctuation) and copied into every file as ready-made
//! bytes. An invoice using a character outside that set (`Café`, a name in
//! Greek) gets fonts subset to the base set plus its extra characters; up to
//! 64 of those sets are cached too. Either way the output depends only on
//! the invoice: the same invoice gives the same bytes.
//!
//! Object numbers are fixed: 1 catalog, 2 page tree, 3 document info,
//! 4 page resources, 5–8 the regular face (Type0 font, descriptor, font
//! program, ToUnicode), 9–12 the bold face, then each page and its content
//! stream (13 and 14 for page 1, 15 and 16 for page 2, ...).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::Write as _;
use std::sync::{Arc, Mutex};

use flate2::Compression;
use flate2::write::ZlibEncoder;
use printpdf::ParsedFont;

use super::PdfError;

/// One drawing operation on a page, in PDF points from the bottom-left corner.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum PageOp {
    /// Set the fill colour (text and rectangles).
    Fill([f32; 3]),
    /// Text with its baseline starting at (`x`, `y`).
    Text {
        bold: bool,
        size: f32,
        x: f32,
        y: f32,
        text: String,
    },
    /// A rectangle filled with the current fill colour; `y` is the bottom edge.
    Rect { x: f32, y: f32, w: f32, h: f32 },
    /// A horizontal line.
    HLine {
        x1: f32,
        x2: f32,
        y: f32,
        width: f32,
        color: [f32; 3],
    },
}

/// The characters every invoice's fonts cover: printable ASCII, the currency
/// signs and the punctuation the layout draws (`·`, `…`). Each glyph costs
/// ~200 bytes in every PDF, so the set stays small; an invoice with other
/// characters (`é`) gets an extended set (see [`FontSets`]).
fn base_chars() -> BTreeSet<char> {
    let mut set: BTreeSet<char> = (' '..='~').collect();
    set.extend("£€¢¥·•…–—‘’“”".chars());
    set
}

/// Resource names of the two faces (also the subset tags of their names).
const FACE_TAGS: [&str; 2] = ["BILLRA", "BILLRB"];

/// The two fonts subset to one character set, serialised as PDF objects 4–12.
pub(super) struct FontSet {
    /// The characters the set was built for.
    chars: HashSet<char>,
    /// Per face (regular, bold): character → glyph id in the subset font.
    gids: [HashMap<char, u16>; 2],
    /// Objects 4 to 12, ready to copy into a file.
    objects: Vec<u8>,
    /// Offset of each of objects 4..=12 within `objects`.
    offsets: [usize; 9],
}

impl FontSet {
    fn build(faces: [&ParsedFont; 2], chars: &BTreeSet<char>) -> Result<FontSet, PdfError> {
        let mut objects = Vec::with_capacity(96 * 1024);
        let mut offsets = [0usize; 9];
        offsets[0] = 0;
        objects.extend_from_slice(b"4 0 obj\n<</Font<</BILLRA 5 0 R/BILLRB 9 0 R>>>>\nendobj\n");
        let mut gids: [HashMap<char, u16>; 2] = [HashMap::new(), HashMap::new()];
        for (k, face) in faces.into_iter().enumerate() {
            let base = 5 + 4 * k;
            let tag = FACE_TAGS[k];
            let fail = |e: String| PdfError::Subset(tag, e);

            // Glyphs of the characters, each with the text it stands for.
            let mut used: BTreeMap<u16, String> = BTreeMap::new();
            for &c in chars {
                if let Some(g) = face.lookup_glyph_index(c as u32).filter(|g| *g != 0) {
                    used.entry(g).or_insert_with(|| c.to_string());
                }
            }
            let sub = printpdf::subset_font(face, &used).map_err(fail)?;
            for &c in chars {
                let new = face
                    .lookup_glyph_index(c as u32)
                    .and_then(|g| sub.glyph_mapping.get(&g))
                    .map(|(new, _)| *new);
                if let Some(new) = new {
                    gids[k].insert(c, new);
                }
            }

            let upm = f32::from(face.pdf_font_metrics.units_per_em.max(1));
            let scale = |v: f32| (v * 1000.0 / upm).round() as i64;
            let m = &face.pdf_font_metrics;
            let name = format!(
                "{tag}+{}",
                face.font_name.as_deref().unwrap_or(tag).replace(' ', "")
            );

            // Widths of glyphs 1..=n (the requested glyphs, renumbered in order).
            let mut by_new: Vec<(u16, u16, &str)> = sub
                .glyph_mapping
                .iter()
                .map(|(orig, (new, text))| (*new, *orig, text.as_str()))
                .collect();
            by_new.sort_unstable();
            let mut w = String::from("[");
            let mut prev: Option<u16> = None;
            for (new, orig, _) in &by_new {
                if prev.is_none_or(|p| p + 1 != *new) {
                    if prev.is_some() {
                        w.push(']');
                    }
                    w.push_str(&format!("{new}["));
                } else {
                    w.push(' ');
                }
                w.push_str(&scale(f32::from(face.get_horizontal_advance(*orig))).to_string());
                prev = Some(*new);
            }
            if prev.is_some() {
                w.push(']');
            }
            w.push(']');

            // Type0 font with its CIDFontType2 descendant.
            offsets[base - 4] = objects.len();
            write!(
                objects,
                "{base} 0 obj\n<</Type/Font/Subtype/Type0/BaseFont/{name}/Encoding/Identity-H\
                 /ToUnicode {tu} 0 R/DescendantFonts[<</Type/Font/Subtype/CIDFontType2\
                 /BaseFont/{name}/CIDSystemInfo<</Registry(Adobe)/Ordering(Identity)/Supplement 0>>\
                 /W{w}/DW 1000/FontDescriptor {fd} 0 R/CIDToGIDMap/Identity>>]>>\nendobj\n",
                tu = base + 3,
                fd = base + 1,
            )
            .map_err(|e| fail(e.to_string()))?;

            // Descriptor (metrics scaled to 1/1000 em, as printpdf wrote them).
            let ascent = scale(f32::from(m.ascender));
            let stem_v = if m.us_weight_class == 0 {
                80
            } else {
                50 + (f32::from(m.us_weight_class) / 65.0).powi(2).round() as i64
            };
            let italic = m.caret_slope_run != 0 && m.caret_slope_rise != 0;
            offsets[base - 3] = objects.len();
            write!(
                objects,
                "{fd} 0 obj\n<</Type/FontDescriptor/FontName/{name}/Ascent {ascent}/Descent {descent}\
                 /CapHeight {ascent}/ItalicAngle {ia}/Flags {flags}/StemV {stem_v}\
                 /FontBBox[{x0} {y0} {x1} {y1}]/FontFile2 {ff} 0 R>>\nendobj\n",
                fd = base + 1,
                descent = scale(f32::from(m.descender)),
                ia = if italic {
                    (-f32::from(m.caret_slope_run)
                        .atan2(f32::from(m.caret_slope_rise))
                        .to_degrees())
                    .round() as i64
                } else {
                    0
                },
                flags = if italic { 32 | 64 } else { 32 },
                x0 = scale(f32::from(m.x_min)),
                y0 = scale(f32::from(m.y_min)),
                x1 = scale(f32::from(m.x_max)),
                y1 = scale(f32::from(m.y_max)),
                ff = base + 2,
            )
            .map_err(|e| fail(e.to_string()))?;

            // The font program.
            offsets[base - 2] = objects.len();
            let packed = deflate(&sub.bytes, Compression::best());
            write!(
                objects,
                "{} 0 obj\n<</Length {}/Length1 {}/Filter/FlateDecode>>\nstream\n",
                base + 2,
                packed.len(),
                sub.bytes.len()
            )
            .map_err(|e| fail(e.to_string()))?;
            objects.extend_from_slice(&packed);
            objects.extend_from_slice(b"\nendstream\nendobj\n");

            // ToUnicode map: glyph id → text, so the PDF text can be extracted.
            let mut cmap = format!(
                "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
                 /CIDSystemInfo <</Registry (Adobe) /Ordering (UCS) /Supplement 0>> def\n\
                 /CMapName /{tag}-UCS def\n/CMapType 2 def\n\
                 1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
            );
            for chunk in by_new.chunks(100) {
                cmap.push_str(&format!("{} beginbfchar\n", chunk.len()));
                for (new, _, text) in chunk {
                    cmap.push_str(&format!("<{new:04X}> <"));
                    for u in text.encode_utf16() {
                        cmap.push_str(&format!("{u:04X}"));
                    }
                    cmap.push_str(">\n");
                }
                cmap.push_str("endbfchar\n");
            }
            cmap.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
            offsets[base - 1] = objects.len();
            let packed = deflate(cmap.as_bytes(), Compression::best());
            write!(
                objects,
                "{} 0 obj\n<</Length {}/Filter/FlateDecode>>\nstream\n",
                base + 3,
                packed.len()
            )
            .map_err(|e| fail(e.to_string()))?;
            objects.extend_from_slice(&packed);
            objects.extend_from_slice(b"\nendstream\nendobj\n");
        }
        Ok(FontSet {
            chars: chars.iter().copied().collect(),
            gids,
            objects,
            offsets,
        })
    }
}

/// The font sets of a process: the base set, and extended sets on demand.
pub(super) struct FontSets {
    base_chars: BTreeSet<char>,
    base: FontSet,
    /// Extended sets by their extra characters (bounded; see [`FontSets::for_pages`]).
    extended: Mutex<HashMap<Vec<char>, Arc<FontSet>>>,
}

/// How many extended font sets to keep (each is ~100 KB).
const EXTENDED_CACHE: usize = 64;

/// Which font set a document uses: the shared base set or one of its own.
enum Chosen<'a> {
    Base(&'a FontSet),
    Extended(Arc<FontSet>),
}

impl std::ops::Deref for Chosen<'_> {
    type Target = FontSet;
    fn deref(&self) -> &FontSet {
        match self {
            Chosen::Base(s) => s,
            Chosen::Extended(s) => s,
        }
    }
}

impl FontSets {
    pub(super) fn build(faces: [&ParsedFont; 2]) -> Result<FontSets, PdfError> {
        let base_chars = base_chars();
        let base = FontSet::build(faces, &base_chars)?;
        Ok(FontSets {
            base_chars,
            base,
            extended: Mutex::new(HashMap::new()),
        })
    }

    /// The font set covering every character on `pages`.
    fn for_pages(
        &self,
        faces: [&ParsedFont; 2],
        pages: &[Vec<PageOp>],
    ) -> Result<Chosen<'_>, PdfError> {
        let mut extra: BTreeSet<char> = BTreeSet::new();
        for op in pages.iter().flatten() {
            if let PageOp::Text { text, .. } = op {
                for c in text.chars() {
                    if !self.base.chars.contains(&c) {
                        extra.insert(c);
                    }
                }
            }
        }
        // Characters neither face has a glyph for print as the missing
        // glyph whatever the set; they need no set of their own.
        extra.retain(|c| {
            faces
                .iter()
                .any(|f| f.lookup_glyph_index(*c as u32).is_some_and(|g| g != 0))
        });
        if extra.is_empty() {
            return Ok(Chosen::Base(&self.base));
        }
        let key: Vec<char> = extra.iter().copied().collect();
        if let Some(set) = self.cache().get(&key) {
            return Ok(Chosen::Extended(Arc::clone(set)));
        }
        let mut chars = self.base_chars.clone();
        chars.extend(extra);
        let set = Arc::new(FontSet::build(faces, &chars)?);
        let mut cache = self.cache();
        if cache.len() < EXTENDED_CACHE {
            cache.insert(key, Arc::clone(&set));
        }
        Ok(Chosen::Extended(set))
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<char>, Arc<FontSet>>> {
        // The cache holds only finished sets: a panic elsewhere cannot leave
        // it half-updated, so a poisoned lock is safe to use.
        self.extended
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// What goes in the document information dictionary and the trailer.
pub(super) struct DocInfo<'a> {
    pub title: &'a str,
    pub author: &'a str,
    pub subject: &'a str,
    /// File identifier (printed as a literal string).
    pub id: &'a [u8],
}

/// A4 in points, as the media box of every page.
const MEDIA_BOX: &[u8] = b"[0 0 595.2756 841.8898]";

/// Write a complete PDF of `pages`.
pub(super) fn write_pdf(
    sets: &FontSets,
    faces: [&ParsedFont; 2],
    pages: &[Vec<PageOp>],
    info: &DocInfo,
) -> Result<Vec<u8>, PdfError> {
    let set = sets.for_pages(faces, pages)?;
    let n_obj = 12 + 2 * pages.len();
    let mut offsets = vec![0usize; n_obj + 1];
    let mut out = Vec::with_capacity(set.objects.len() + 16 * 1024 * pages.len() + 4096);
    out.extend_from_slice(b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n");

    let start = out.len();
    out.extend_from_slice(&set.objects);
    for (i, off) in set.offsets.iter().enumerate() {
        offsets[4 + i] = start + off;
    }

    offsets[1] = out.len();
    out.extend_from_slice(b"1 0 obj\n<</Type/Catalog/Pages 2 0 R>>\nendobj\n");
    offsets[2] = out.len();
    out.extend_from_slice(b"2 0 obj\n<</Type/Pages/Kids[");
    for i in 0..pages.len() {
        if i > 0 {
            out.push(b' ');
        }
        write_int(&mut out, 13 + 2 * i as i64);
        out.extend_from_slice(b" 0 R");
    }
    out.extend_from_slice(b"]/Count ");
    write_int(&mut out, pages.len() as i64);
    out.extend_from_slice(b">>\nendobj\n");
    offsets[3] = out.len();
    out.extend_from_slice(b"3 0 obj\n<</Title");
    text_string(&mut out, info.title);
    out.extend_from_slice(b"/Author");
    text_string(&mut out, info.author);
    out.extend_from_slice(b"/Subject");
    text_string(&mut out, info.subject);
    out.extend_from_slice(b"/Producer(billrun)>>\nendobj\n");

    let mut content = Vec::with_capacity(32 * 1024);
    for (i, ops) in pages.iter().enumerate() {
        let page_obj = 13 + 2 * i;
        offsets[page_obj] = out.len();
        write!(
            out,
            "{page_obj} 0 obj\n<</Type/Page/Parent 2 0 R/MediaBox{}/Resources 4 0 R/Contents {} 0 R>>\nendobj\n",
            std::str::from_utf8(MEDIA_BOX).unwrap_or_default(),
            page_obj + 1
        )
        .map_err(PdfError::Write)?;
        content.clear();
        encode_page(&mut content, &set, ops);
        let packed = deflate(&content, Compression::fast());
        offsets[page_obj + 1] = out.len();
        write!(
            out,
            "{} 0 obj\n<</Length {}/Filter/FlateDecode>>\nstream\n",
            page_obj + 1,
            packed.len()
        )
        .map_err(PdfError::Write)?;
        out.extend_from_slice(&packed);
        out.extend_from_slice(b"\nendstream\nendobj\n");
    }

    let xref = out.len();
    write!(out, "xref\n0 {}\n0000000000 65535 f \n", n_obj + 1).map_err(PdfError::Write)?;
    for off in &offsets[1..] {
        writeln!(out, "{off:010} 00000 n ").map_err(PdfError::Write)?;
    }
    write!(
        out,
        "trailer\n<</Size {}/Root 1 0 R/Info 3 0 R/ID[",
        n_obj + 1
    )
    .map_err(PdfError::Write)?;
    for _ in 0..2 {
        out.push(b'(');
        out.extend_from_slice(info.id);
        out.push(b')');
    }
    write!(out, "]>>\nstartxref\n{xref}\n%%EOF\n").map_err(PdfError::Write)?;
    Ok(out)
}

fn deflate(bytes: &[u8], level: Compression) -> Vec<u8> {
    let mut z = ZlibEncoder::new(Vec::with_capacity(bytes.len() / 2 + 64), level);
    // Writing to a Vec cannot fail.
    z.write_all(bytes).expect("deflate into memory");
    z.finish().expect("deflate into memory")
}

/// A text string in UTF-16BE with a byte order mark, as hex.
fn text_string(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(b"<FEFF");
    for u in s.encode_utf16() {
        hex4(out, u);
    }
    out.push(b'>');
}

fn hex4(out: &mut Vec<u8>, v: u16) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.extend_from_slice(&[
        HEX[usize::from(v >> 12)],
        HEX[usize::from((v >> 8) & 15)],
        HEX[usize::from((v >> 4) & 15)],
        HEX[usize::from(v & 15)],
    ]);
}

fn write_int(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    let mut n = v.unsigned_abs();
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// A number with at most three decimals, trailing zeros dropped.
fn num(out: &mut Vec<u8>, v: f32) {
    let m = (f64::from(v) * 1000.0).round() as i64;
    if m < 0 {
        out.push(b'-');
    }
    let m = m.unsigned_abs();
    write_int(out, (m / 1000) as i64);
    let mut frac = m % 1000;
    if frac != 0 {
        out.push(b'.');
        let mut digits = 3;
        while frac.is_multiple_of(10) {
            frac /= 10;
            digits -= 1;
        }
        let s = [
            b'0' + (frac / 100 % 10) as u8,
            b'0' + (frac / 10 % 10) as u8,
            b'0' + (frac % 10) as u8,
        ];
        out.extend_from_slice(&s[3 - digits..]);
    }
}

fn color(out: &mut Vec<u8>, c: [f32; 3], op: &[u8]) {
    for v in c {
        num(out, v);
        out.push(b' ');
    }
    out.extend_from_slice(op);
    out.push(b'\n');
}

/// The content stream of one page.
fn encode_page(out: &mut Vec<u8>, set: &FontSet, ops: &[PageOp]) {
    for op in ops {
        match op {
            PageOp::Fill(c) => color(out, *c, b"rg"),
            PageOp::Text {
                bold,
                size,
                x,
                y,
                text,
            } => {
                let k = usize::from(*bold);
                out.extend_from_slice(b"BT\n/");
                out.extend_from_slice(FACE_TAGS[k].as_bytes());
                out.push(b' ');
                num(out, *size);
                out.extend_from_slice(b" Tf\n");
                num(out, *x);
                out.push(b' ');
                num(out, *y);
                out.extend_from_slice(b" Td\n<");
                for c in text.chars() {
                    hex4(out, set.gids[k].get(&c).copied().unwrap_or(0));
                }
                out.extend_from_slice(b"> Tj\nET\n");
            }
            PageOp::Rect { x, y, w, h } => {
                for v in [x, y, w, h] {
                    num(out, *v);
                    out.push(b' ');
                }
                out.extend_from_slice(b"re\nf\n");
            }
            PageOp::HLine {
                x1,
                x2,
                y,
                width,
                color: c,
            } => {
                color(out, *c, b"RG");
                num(out, *width);
                out.extend_from_slice(b" w\n");
                num(out, *x1);
                out.push(b' ');
                num(out, *y);
                out.extend_from_slice(b" m\n");
                num(out, *x2);
                out.push(b' ');
                num(out, *y);
                out.extend_from_slice(b" l\nS\n");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_with_up_to_three_decimals() {
        let s = |v: f32| {
            let mut o = Vec::new();
            num(&mut o, v);
            String::from_utf8(o).unwrap()
        };
        assert_eq!(s(0.0), "0");
        assert_eq!(s(48.0), "48");
        assert_eq!(s(-3.5), "-3.5");
        assert_eq!(s(0.975), "0.975");
        assert_eq!(s(445.59604), "445.596");
        assert_eq!(s(0.1), "0.1");
        assert_eq!(s(547.28), "547.28");
        assert_eq!(s(-0.0004), "0");
    }
}
