//! Text vocabulary: a BERT-style WordPiece tokenizer (`tokenizers` crate) trained on the dataset's
//! own captions, or loaded from an existing `tokenizer.json`. Special tokens take the ids the model
//! presets expect: `[PAD]` 0, `[UNK]` 1, `[CLS]` 2, `[SEP]` 3, `[MASK]` 4.

use std::path::Path;

use tokenizers::models::wordpiece::{WordPiece, WordPieceTrainer};
use tokenizers::models::TrainerWrapper;
use tokenizers::normalizers::bert::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::{AddedToken, Tokenizer};

/// `work` with a panic inside the tokenizers crate (a tokenizer file it accepted but cannot run)
/// turned into a coded error naming `field`.
fn guarded<T>(field: &str, work: impl FnOnce() -> T) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work))
        .map_err(|_| Error::input(field, "the tokenizer failed on this input (a malformed tokenizer.json?)"))
}

/// The largest `tokenizer.json` read (a BERT-base one is ~0.7 MB; 30 000-piece vocabularies ~1 MB).
pub const MAX_TOKENIZER_BYTES: u64 = 256 << 20;

use crate::error::{Error, Result};

pub const SPECIAL_TOKENS: [&str; 5] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

#[derive(Debug, Clone, Copy)]
pub struct VocabOptions {
    /// Target vocabulary size (including special tokens).
    pub vocab_size: usize,
    /// Minimum count for a merge.
    pub min_frequency: u64,
    /// Lowercase and strip accents (BERT uncased).
    pub lowercase: bool,
}

impl Default for VocabOptions {
    fn default() -> Self {
        Self { vocab_size: 8192, min_frequency: 2, lowercase: true }
    }
}

/// Make training reproducible. The `tokenizers` trainer breaks ties between equally frequent merges
/// by hash-map order, which is random per process: the same captions gave different intermediate
/// pieces ("diamo" in one run, "##mond" in the next) and different ids. Keep the special tokens, every
/// single character (alone and as `##c`, so any text stays encodable), and the pieces that encoding
/// the training texts actually uses — unused pieces would only be untrained embedding rows — and
/// number them canonically: specials 0–4, then whole-word pieces, then `##` pieces, each in byte
/// order. Reproducible whenever the pieces the texts use do not themselves hinge on a tie (always
/// for words frequent enough to become whole tokens).
fn canonicalise(inner: &mut Tokenizer, texts: &[String]) -> Result<()> {
    let mut keep: std::collections::BTreeSet<String> =
        inner.get_vocab(false).into_keys().filter(|t| t.trim_start_matches("##").chars().count() == 1 && !SPECIAL_TOKENS.contains(&t.as_str())).collect();
    for text in texts {
        let enc = inner.encode(text.as_str(), false).map_err(|e| tk_err("vocab", e))?;
        keep.extend(enc.get_tokens().iter().filter(|t| !SPECIAL_TOKENS.contains(&t.as_str())).cloned());
    }
    let mut rest: Vec<String> = keep.into_iter().collect();
    rest.sort_by(|a, b| (a.starts_with("##"), a.as_str()).cmp(&(b.starts_with("##"), b.as_str())));
    let ids: serde_json::Map<String, serde_json::Value> =
        SPECIAL_TOKENS.iter().map(|s| s.to_string()).chain(rest).enumerate().map(|(i, t)| (t, i.into())).collect();
    // Through the serialised form: the model's vocabulary is the only thing that changes.
    let mut json: serde_json::Value = serde_json::from_str(&inner.to_string(false).map_err(|e| tk_err("vocab", e))?).map_err(|e| tk_err("vocab", e))?;
    json["model"]["vocab"] = serde_json::Value::Object(ids);
    *inner = json.to_string().parse::<Tokenizer>().map_err(|e| tk_err("vocab", e))?;
    Ok(())
}

pub struct TextTokenizer {
    inner: Tokenizer,
}

fn tk_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::input(what, e.to_string())
}

impl TextTokenizer {
    /// Train WordPiece on `texts`. `vocab_size` is an upper bound: pieces the trainer made but the
    /// texts never use are dropped (see `canonicalise`).
    pub fn train<I, S>(texts: I, opts: &VocabOptions) -> Result<Self>
    where
        I: Iterator<Item = S> + Send,
        S: AsRef<str> + Send,
    {
        if opts.vocab_size <= SPECIAL_TOKENS.len() {
            return Err(Error::config("vocabSize", format!("must be > {}", SPECIAL_TOKENS.len())));
        }
        let mut inner = Tokenizer::new(WordPiece::builder().unk_token("[UNK]".into()).build().map_err(|e| tk_err("vocab", e))?);
        inner.with_normalizer(Some(BertNormalizer::new(true, true, Some(opts.lowercase), opts.lowercase))).map_err(|e| tk_err("vocab", e))?;
        inner.with_pre_tokenizer(Some(BertPreTokenizer));
        let trainer = WordPieceTrainer::builder()
            .vocab_size(opts.vocab_size)
            .min_frequency(opts.min_frequency)
            .show_progress(false)
            .special_tokens(SPECIAL_TOKENS.iter().map(|t| AddedToken::from(t.to_string(), true)).collect())
            .build();
        let mut trainer = TrainerWrapper::WordPieceTrainer(trainer);
        let texts: Vec<String> = texts.map(|t| t.as_ref().to_owned()).collect();
        inner.train(&mut trainer, texts.iter()).map_err(|e| tk_err("vocab", e))?;
        canonicalise(&mut inner, &texts)?;
        let tok = Self { inner };
        tok.check_specials(Path::new("(trained)"))?;
        Ok(tok)
    }

    /// Load a `tokenizer.json` (ours, or any WordPiece/BERT tokenizer with the same special ids).
    /// Files over `MAX_TOKENIZER_BYTES` are refused before they are read, and the file's padding and
    /// truncation settings are dropped (this library cuts to `maxTextLen` itself): a hostile
    /// `"padding": {"strategy": {"Fixed": 1e12}}` would otherwise make every encode allocate that much.
    pub fn load(path: &Path) -> Result<Self> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if !meta.is_file() {
            return Err(Error::io(path, std::io::Error::new(std::io::ErrorKind::NotFound, "tokenizer.json not found")));
        }
        if meta.len() > MAX_TOKENIZER_BYTES {
            return Err(Error::input(path.display().to_string(), format!("{} bytes: a tokenizer.json is at most {MAX_TOKENIZER_BYTES} bytes", meta.len())));
        }
        // The tokenizers crate panics on some malformed files (found by fuzzing: a `decoder` that is
        // not an object); a panic here is a malformed file, not a crash.
        let parsed = std::panic::catch_unwind(|| Tokenizer::from_file(path))
            .map_err(|_| Error::input(path.display().to_string(), "malformed tokenizer.json (the tokenizers library could not read it)"))?;
        let mut inner = parsed.map_err(|e| tk_err(&path.display().to_string(), e))?;
        inner.with_padding(None);
        inner.with_truncation(None).map_err(|e| tk_err(&path.display().to_string(), e))?;
        let tok = Self { inner };
        tok.check_specials(path)?;
        Ok(tok)
    }

    fn check_specials(&self, path: &Path) -> Result<()> {
        for (id, t) in SPECIAL_TOKENS.iter().enumerate() {
            if self.inner.token_to_id(t) != Some(id as u32) {
                return Err(Error::input(path.display().to_string(), format!("special token {t} must have id {id}")));
            }
        }
        Ok(())
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        self.inner.save(path, true).map_err(|e| Error::io(path, std::io::Error::other(e.to_string())))
    }

    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// Word-piece ids of `text` (no special tokens), at most `max_len`.
    pub fn encode(&self, text: &str, max_len: usize) -> Result<Vec<u32>> {
        let enc = guarded("text", || self.inner.encode(text, false))?.map_err(|e| tk_err("text", e))?;
        let mut ids = enc.get_ids().to_vec();
        ids.truncate(max_len);
        Ok(ids)
    }

    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        guarded("ids", || self.inner.decode(ids, true))?.map_err(|e| tk_err("ids", e))
    }

    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn training_is_deterministic() {
        let captions = ["a red circle moves left", "the green square is moving up", "we see a blue triangle going down", "a purple diamond slides right"];
        let json = || {
            let tok = TextTokenizer::train(captions.iter(), &VocabOptions { vocab_size: 200, min_frequency: 1, lowercase: true }).unwrap();
            assert_eq!(tok.token_to_id("[MASK]"), Some(4));
            let path = std::env::temp_dir().join(format!("vocab-det-{}.json", std::process::id()));
            tok.save(&path).unwrap();
            let text = std::fs::read_to_string(&path).unwrap();
            std::fs::remove_file(&path).unwrap();
            (text, tok.encode("a red circle moves left", 16).unwrap())
        };
        let first = json();
        for _ in 0..5 {
            assert_eq!(json(), first);
        }
    }

    #[test]
    fn trains_encodes_decodes_and_roundtrips() {
        let captions: Vec<String> = (0..200)
            .map(|i| {
                format!("a {} {} moves {}", ["red", "green", "blue"][i % 3], ["circle", "square", "triangle"][i % 3], ["left", "right", "up", "down"][i % 4])
            })
            .collect();
        let tok = TextTokenizer::train(captions.iter(), &VocabOptions { vocab_size: 120, min_frequency: 1, lowercase: true }).unwrap();
        assert!(tok.vocab_size() <= 120 && tok.vocab_size() > 20);
        let ids = tok.encode("A RED circle moves LEFT", 16).unwrap();
        assert_eq!(tok.decode(&ids).unwrap(), "a red circle moves left");
        for w in ["red", "circle", "moves", "left"] {
            assert!(tok.token_to_id(w).is_some(), "{w} is a whole word in the vocabulary");
        }
        assert!(ids.iter().all(|&i| i >= 5), "no special tokens in plain text");
        assert_eq!(tok.encode("a red circle moves left", 3).unwrap().len(), 3);
        let path = std::env::temp_dir().join(format!("tok-{}.json", std::process::id()));
        tok.save(&path).unwrap();
        let back = TextTokenizer::load(&path).unwrap();
        assert_eq!(back.encode("a blue square moves up", 16).unwrap(), tok.encode("a blue square moves up", 16).unwrap());
        assert!(TextTokenizer::load(Path::new("/nonexistent/tokenizer.json")).is_err());
    }

    /// A hostile tokenizer.json: padding to 10^12 tokens (each encode would allocate terabytes), a
    /// truncation setting, a file larger than the limit — coded errors or ignored settings, in bounded memory.
    #[test]
    fn a_hostile_tokenizer_file_cannot_make_encode_allocate() {
        let captions = ["a red circle moves left", "the green square is moving up"];
        let tok = TextTokenizer::train(captions.iter(), &VocabOptions { vocab_size: 100, min_frequency: 1, lowercase: true }).unwrap();
        let path = std::env::temp_dir().join(format!("tok-hostile-{}.json", std::process::id()));
        tok.save(&path).unwrap();
        let mut json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        json["padding"] = serde_json::json!({"strategy": {"Fixed": 1_000_000_000_000u64}, "direction": "Right", "pad_to_multiple_of": null, "pad_id": 0, "pad_type_id": 0, "pad_token": "[PAD]"});
        json["truncation"] = serde_json::json!({"direction": "Right", "max_length": 1, "strategy": "LongestFirst", "stride": 0});
        std::fs::write(&path, serde_json::to_string(&json).unwrap()).unwrap();
        let loaded = TextTokenizer::load(&path).unwrap();
        assert_eq!(loaded.encode("a red circle moves left", 16).unwrap(), tok.encode("a red circle moves left", 16).unwrap());
        // Larger than the limit: refused from its size, before it is read (a sparse file).
        std::fs::File::create(&path).unwrap().set_len(MAX_TOKENIZER_BYTES + 1).unwrap();
        match TextTokenizer::load(&path) {
            Err(Error::InvalidInput { reason, .. }) => assert!(reason.contains("at most"), "{reason}"),
            other => panic!("expected InvalidInput, got {:?}", other.map(|_| ())),
        }
        std::fs::remove_file(&path).unwrap();
    }

    /// Found by fuzzing (`fuzz/`, target `tokenizer_json`): a `decoder` entry the tokenizers crate
    /// panics on (`.expect("Helper")`) instead of returning an error.
    #[test]
    fn a_tokenizer_file_the_tokenizers_crate_panics_on_is_an_input_error() {
        for name in ["tokenizer-decoder-panic.json", "tokenizer-decoder-panic-2.json"] {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz").join(name);
            match TextTokenizer::load(&path) {
                Err(Error::InvalidInput { reason, .. }) => assert!(reason.contains("malformed tokenizer.json"), "{name}: {reason}"),
                other => panic!("{name}: expected InvalidInput, got {:?}", other.map(|_| ())),
            }
        }
    }
}
