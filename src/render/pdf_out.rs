//! The PDF file of an invoice, assembled with `lopdf` from fonts built once.
//!
//! Production writes thousands of invoices with the same two fonts, so the
//! expensive part of a PDF — the embedded font programs, subset (by printpdf)
//! and compressed, with their width tables and ToUnicode maps — is built once
//! per process for a fixed character set ([`base_chars`]: printable ASCII,
//! `£`, `€`, and common typographic punctuation) as lopdf objects, and cloned
//! into every document; printpdf's own writer would subset and compress them
//! again for every invoice (most of the time it took). lopdf writes the file. An invoice using a character outside that set (`Café`, a name in
//! Greek) gets fonts subset to the base set plus its extra characters; up to
//! 64 of those sets are cached too. Either way the output depends only on
//! the invoice: the same invoice gives the same bytes.
//!
//! Object numbers are fixed: 1 catalog, 2 page tree, 3 document info,
//! 4 page resources, 5–8 the regular face (Type0 font, descriptor, font
//! program, ToUnicode), 9–12 the bold face, then each page and its content
//! stream (13 and 14 for page 1, 15 and 16 for page 2, ...).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write as _;
use std::sync::{Arc, Mutex};

use flate2::Compression;
use flate2::write::ZlibEncoder;
use lopdf::xref::XrefType;
use lopdf::{Document, Object, ObjectId, Stream, dictionary};
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

/// The two fonts subset to one character set, as PDF objects 4–12.
pub(super) struct FontSet {
    /// The characters the set was built for.
    chars: rustc_hash::FxHashSet<char>,
    /// Per face (regular, bold): character → glyph id in the subset font.
    gids: [rustc_hash::FxHashMap<char, u16>; 2],
    /// Objects 4 (page resources) to 12, ready to clone into a document; the
    /// font programs and ToUnicode maps are compressed already.
    objects: Vec<(ObjectId, Object)>,
}

impl FontSet {
    fn build(faces: [&ParsedFont; 2], chars: &BTreeSet<char>) -> Result<FontSet, PdfError> {
        let mut objects: Vec<(ObjectId, Object)> = Vec::with_capacity(9);
        objects.push((
            (4, 0),
            Object::Dictionary(dictionary! {
                "Font" => dictionary! {
                    FACE_TAGS[0] => Object::Reference((5, 0)),
                    FACE_TAGS[1] => Object::Reference((9, 0)),
                },
            }),
        ));
        let mut gids: [rustc_hash::FxHashMap<char, u16>; 2] = Default::default();
        for (k, face) in faces.into_iter().enumerate() {
            let base = 5 + 4 * k as u32;
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

            // Widths of the subset's glyphs, in runs of consecutive ids:
            // `[first [w w …] first [w …] …]`.
            let mut by_new: Vec<(u16, u16, &str)> = sub
                .glyph_mapping
                .iter()
                .map(|(orig, (new, text))| (*new, *orig, text.as_str()))
                .collect();
            by_new.sort_unstable();
            let mut widths: Vec<Object> = Vec::new();
            let mut run: Vec<Object> = Vec::new();
            let mut prev: Option<u16> = None;
            for (new, orig, _) in &by_new {
                if prev.is_none_or(|p| p + 1 != *new) {
                    if prev.is_some() {
                        widths.push(Object::Array(std::mem::take(&mut run)));
                    }
                    widths.push(Object::Integer(i64::from(*new)));
                }
                run.push(Object::Integer(scale(f32::from(
                    face.get_horizontal_advance(*orig),
                ))));
                prev = Some(*new);
            }
            if prev.is_some() {
                widths.push(Object::Array(run));
            }

            // Type0 font with its CIDFontType2 descendant.
            objects.push((
                (base, 0),
                Object::Dictionary(dictionary! {
                    "Type" => "Font",
                    "Subtype" => "Type0",
                    "BaseFont" => Object::Name(name.clone().into_bytes()),
                    "Encoding" => "Identity-H",
                    "ToUnicode" => Object::Reference((base + 3, 0)),
                    "DescendantFonts" => vec![Object::Dictionary(dictionary! {
                        "Type" => "Font",
                        "Subtype" => "CIDFontType2",
                        "BaseFont" => Object::Name(name.clone().into_bytes()),
                        "CIDSystemInfo" => dictionary! {
                            "Registry" => Object::string_literal("Adobe"),
                            "Ordering" => Object::string_literal("Identity"),
                            "Supplement" => 0,
                        },
                        "W" => widths,
                        "DW" => 1000,
                        "FontDescriptor" => Object::Reference((base + 1, 0)),
                        "CIDToGIDMap" => "Identity",
                    })],
                }),
            ));

            // Descriptor (metrics scaled to 1/1000 em, as printpdf wrote them).
            let ascent = scale(f32::from(m.ascender));
            let stem_v = if m.us_weight_class == 0 {
                80
            } else {
                50 + (f32::from(m.us_weight_class) / 65.0).powi(2).round() as i64
            };
            let italic = m.caret_slope_run != 0 && m.caret_slope_rise != 0;
            let italic_angle = if italic {
                (-f32::from(m.caret_slope_run)
                    .atan2(f32::from(m.caret_slope_rise))
                    .to_degrees())
                .round() as i64
            } else {
                0
            };
            objects.push((
                (base + 1, 0),
                Object::Dictionary(dictionary! {
                    "Type" => "FontDescriptor",
                    "FontName" => Object::Name(name.into_bytes()),
                    "Ascent" => ascent,
                    "Descent" => scale(f32::from(m.descender)),
                    "CapHeight" => ascent,
                    "ItalicAngle" => italic_angle,
                    "Flags" => if italic { 32 | 64 } else { 32 },
                    "StemV" => stem_v,
                    "FontBBox" => vec![
                        scale(f32::from(m.x_min)).into(),
                        scale(f32::from(m.y_min)).into(),
                        scale(f32::from(m.x_max)).into(),
                        scale(f32::from(m.y_max)).into(),
                    ],
                    "FontFile2" => Object::Reference((base + 2, 0)),
                }),
            ));

            // The font program.
            let program = Stream::new(
                dictionary! {
                    "Length1" => sub.bytes.len() as i64,
                    "Filter" => "FlateDecode",
                },
                deflate(&sub.bytes, Compression::best()),
            )
            .with_compression(false);
            objects.push(((base + 2, 0), Object::Stream(program)));

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
            let to_unicode = Stream::new(
                dictionary! { "Filter" => "FlateDecode" },
                deflate(cmap.as_bytes(), Compression::best()),
            )
            .with_compression(false);
            objects.push(((base + 3, 0), Object::Stream(to_unicode)));
        }
        Ok(FontSet {
            chars: chars.iter().copied().collect(),
            gids,
            objects,
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

/// A4 in points (210 × 297 mm), as the media box of every page.
const MEDIA_BOX: [f32; 4] = [0.0, 0.0, 595.2756, 841.8898];

/// Write a complete PDF of `pages`: a lopdf document with fixed object
/// numbers (see the module documentation), saved with a classic
/// cross-reference table.
pub(super) fn write_pdf(
    sets: &FontSets,
    faces: [&ParsedFont; 2],
    pages: &[Vec<PageOp>],
    info: &DocInfo,
) -> Result<Vec<u8>, PdfError> {
    let set = sets.for_pages(faces, pages)?;
    let mut doc = Document::with_version("1.7");
    doc.reference_table.cross_reference_type = XrefType::CrossReferenceTable;
    let page_id = |i: usize| (13 + 2 * i as u32, 0);

    doc.objects.insert(
        (1, 0),
        Object::Dictionary(
            dictionary! { "Type" => "Catalog", "Pages" => Object::Reference((2, 0)) },
        ),
    );
    doc.objects.insert(
        (2, 0),
        Object::Dictionary(dictionary! {
            "Type" => "Pages",
            "Kids" => (0..pages.len()).map(|i| Object::Reference(page_id(i))).collect::<Vec<_>>(),
            "Count" => pages.len() as i64,
        }),
    );
    doc.objects.insert(
        (3, 0),
        Object::Dictionary(dictionary! {
            "Title" => lopdf::text_string(info.title),
            "Author" => lopdf::text_string(info.author),
            "Subject" => lopdf::text_string(info.subject),
            "Producer" => Object::string_literal("billrun"),
        }),
    );
    for (id, object) in &set.objects {
        doc.objects.insert(*id, object.clone());
    }
    for (i, ops) in pages.iter().enumerate() {
        let (page, generation) = page_id(i);
        let contents = (page + 1, generation);
        doc.objects.insert(
            (page, generation),
            Object::Dictionary(dictionary! {
                "Type" => "Page",
                "Parent" => Object::Reference((2, 0)),
                "MediaBox" => MEDIA_BOX.iter().map(|v| Object::Real(*v)).collect::<Vec<_>>(),
                "Resources" => Object::Reference((4, 0)),
                "Contents" => Object::Reference(contents),
            }),
        );
        let content = page_content(&set, ops);
        // The fast level: content streams are small, and there are many.
        let stream = Stream::new(
            dictionary! { "Filter" => "FlateDecode" },
            deflate(&content, Compression::fast()),
        )
        .with_compression(false);
        doc.objects.insert(contents, Object::Stream(stream));
    }
    doc.max_id = page_id(pages.len()).0 - 1;
    doc.trailer.set("Root", Object::Reference((1, 0)));
    doc.trailer.set("Info", Object::Reference((3, 0)));
    doc.trailer.set(
        "ID",
        vec![
            Object::string_literal(info.id.to_vec()),
            Object::string_literal(info.id.to_vec()),
        ],
    );
    let mut out = Vec::with_capacity(96 * 1024);
    doc.save_to(&mut out).map_err(PdfError::Write)?;
    Ok(out)
}

fn deflate(bytes: &[u8], level: Compression) -> Vec<u8> {
    let mut z = ZlibEncoder::new(Vec::with_capacity(bytes.len() / 2 + 64), level);
    // Writing to a Vec cannot fail.
    z.write_all(bytes).expect("deflate into memory");
    z.finish().expect("deflate into memory")
}

/// Append a coordinate, size or colour component: rounded to 1/1000
/// (keeps content streams short), written as PDF number syntax has it (no
/// exponent; no point for a whole number; trailing zeros dropped).
fn put_num(out: &mut Vec<u8>, v: f32) {
    // Not finite (never drawn by the layout): 0 rather than an invalid number.
    let milli = if v.is_finite() {
        (f64::from(v) * 1000.0).round() as i64
    } else {
        0
    };
    if milli < 0 {
        out.push(b'-');
    }
    let m = milli.unsigned_abs();
    out.extend_from_slice(itoa::Buffer::new().format(m / 1000).as_bytes());
    let frac = m % 1000;
    if frac != 0 {
        let digits = [
            b'0' + (frac / 100) as u8,
            b'0' + (frac / 10 % 10) as u8,
            b'0' + (frac % 10) as u8,
        ];
        let len = match (frac % 100, frac % 10) {
            (0, _) => 1,
            (_, 0) => 2,
            _ => 3,
        };
        out.push(b'.');
        out.extend_from_slice(&digits[..len]);
    }
}

/// Append one operation: its numeric operands, then the operator, on a line.
fn put_op(out: &mut Vec<u8>, operands: &[f32], operator: &[u8]) {
    for v in operands {
        put_num(out, *v);
        out.push(b' ');
    }
    out.extend_from_slice(operator);
    out.push(b'\n');
}

/// The content stream of one page, written directly (one pass, no
/// intermediate objects: this runs for every line of every invoice).
fn page_content(set: &FontSet, ops: &[PageOp]) -> Vec<u8> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = Vec::with_capacity(ops.len() * 48);
    for op in ops {
        match op {
            PageOp::Fill(c) => put_op(&mut out, c, b"rg"),
            PageOp::Text {
                bold,
                size,
                x,
                y,
                text,
            } => {
                let k = usize::from(*bold);
                out.extend_from_slice(b"BT\n/");
                // The tags are plain PDF names (letters only).
                out.extend_from_slice(FACE_TAGS[k].as_bytes());
                out.push(b' ');
                put_op(&mut out, &[*size], b"Tf");
                put_op(&mut out, &[*x, *y], b"Td");
                // Identity-H: two bytes per glyph id of the subset font, hex.
                out.push(b'<');
                for c in text.chars() {
                    let g = set.gids[k].get(&c).copied().unwrap_or(0);
                    for byte in g.to_be_bytes() {
                        out.push(HEX[usize::from(byte >> 4)]);
                        out.push(HEX[usize::from(byte & 0xF)]);
                    }
                }
                out.extend_from_slice(b"> Tj\nET\n");
            }
            PageOp::Rect { x, y, w, h } => {
                put_op(&mut out, &[*x, *y, *w, *h], b"re");
                put_op(&mut out, &[], b"f");
            }
            PageOp::HLine {
                x1,
                x2,
                y,
                width,
                color: c,
            } => {
                put_op(&mut out, c, b"RG");
                put_op(&mut out, &[*width], b"w");
                put_op(&mut out, &[*x1, *y], b"m");
                put_op(&mut out, &[*x2, *y], b"l");
                put_op(&mut out, &[], b"S");
            }
        }
    }
    out
}
