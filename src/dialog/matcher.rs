//! The example-based matcher: flows and nodes list example messages (`examples:` in the dialog
//! files); at load time they become TF-IDF vectors of words, word pairs and character trigrams of the
//! normalised text (after the lexicon), and a message is routed to the target of its nearest example
//! (cosine similarity). Deterministic, pure Rust, no model files; built once, read-only afterwards.
//!
//! A [`Verdict`] says how sure the match is: `Confident` goes straight to the answering node,
//! `Unsure` offers the best two or three as choices, `Poor` leaves the message to the fallback.

use super::io::{Lang, Position};
use super::model::Text;

/// At or above this similarity, with [`MARGIN`] over the next target, the match is taken at once.
pub const CONFIDENT: f32 = 0.42;
/// The best target must lead the next one by this much to be taken without asking.
pub const MARGIN: f32 = 0.06;
/// A confident match overrules a trigger of a flow without examples only at or above this similarity.
pub const DECISIVE: f32 = 0.7;
/// A confident match overrules a trigger of a flow with examples when it leads that flow's best
/// target by this much.
pub const OVERRULE_GAP: f32 = 0.15;
/// While a free-text question waits, a message at least this similar to another flow's example
/// makes the bot ask "answer, or go there?".
pub const ELSEWHERE: f32 = 0.5;
/// At or above this similarity a target is offered as "did you mean".
pub const UNSURE: f32 = 0.24;
/// At most this many targets are offered.
pub const MAX_OFFERED: usize = 3;

/// Words too common to say anything about the topic (after the lexicon).
const STOPWORDS: &[&str] = &[
    "saya",
    "aku",
    "yang",
    "ya",
    "min",
    "kak",
    "mas",
    "mbak",
    "pak",
    "bu",
    "sih",
    "dong",
    "nih",
    "deh",
    "kah",
    "lah",
    "to",
    "kok",
    "ini",
    "itu",
    "the",
    "a",
    "an",
    "i",
    "is",
    "my",
    "me",
    "of",
    "and",
    "or",
    "do",
    "mau",
    "tanya",
    "nanya",
    "admin",
    "gan",
    "sis",
    "bos",
    "halo",
    "tolong",
    "please",
    "pls",
    "mohon",
    "bisa",
    "apa",
    "ada",
    "kalau",
    "de",
    "nya",
    "e",
    "ne",
    "je",
    "wae",
    "di",
    "ke",
    "dari",
    "untuk",
    "dengan",
    "buat",
    "sama",
    "karo",
    "nek",
    "yen",
    "jika",
    "for",
    "in",
    "at",
    "on",
    "from",
    "with",
    "dan",
    "atau",
    "juga",
    "saja",
    "bagaimana",
    "sudah",
    "gimana",
    "kan",
    "ke",
    "it",
    "that",
    "can",
    "are",
    "be",
];

/// One place a match can lead: a flow's first node or a node that answers one question.
#[derive(Clone, Debug)]
pub struct Target {
    pub position: Position,
    /// Shown as the choice when the bot asks "did you mean".
    pub label: Text,
}

/// An example message of a target, already normalised.
#[derive(Clone, Debug)]
pub struct Example {
    pub target: usize,
    pub lang: Lang,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Go to this target.
    Confident(usize),
    /// Offer these targets, best first.
    Unsure(Vec<usize>),
    Poor,
}

#[derive(Clone, Debug, Default)]
pub struct Matcher {
    pub targets: Vec<Target>,
    pub examples: Vec<Example>,
    /// The features, sorted by hash: a feature's index is its place here (binary search), and
    /// its idf and where its postings start are beside its hash (16 bytes each, as the three
    /// arrays they were: the cache line the search ends on holds them, one miss less each).
    vocab: Vec<Feature>,
    /// Where each run of hashes with the same top [`BUCKET_BITS`] bits starts in `vocab` (and its
    /// end): a lookup searches one short run instead of the whole vocabulary, whose top levels
    /// miss the cache on a stream of different messages.
    buckets: Vec<u32>,
    /// The postings of feature `f` (the examples that have it, ascending, with its weight in that
    /// example's unit vector) are `post_ids[i]` and `post_weights[i]` for `i` from
    /// `vocab[f].start` to the next feature's start (`post_ids`' length after the last): flat
    /// arrays instead of a vector per feature, and the examples in 16 bits while they fit (6 bytes
    /// a posting, not 8).
    post_ids: PostingIds,
    post_weights: Vec<f32>,
    /// The examples as runs of consecutive examples with the same target: `(target, end)`, each
    /// run ending where the next starts (examples are listed target by target, so there are about
    /// as many runs as targets). A target's best score is the maximum over its runs.
    runs: Vec<(u32, u32)>,
    /// The largest idf (at least 1), the weight of a word no example has.
    max_idf: f32,
}

/// A feature of the vocabulary: its hash, its idf, and where its postings start.
#[derive(Clone, Copy, Debug, Default)]
struct Feature {
    hash: u64,
    start: u32,
    idf: f32,
}

impl Matcher {
    /// Builds the index from normalised examples.
    pub fn new(targets: Vec<Target>, examples: Vec<Example>) -> Matcher {
        // Each example's features by hash, in order of first appearance, repeated ones summed.
        let per_example: Vec<Vec<(u64, f32)>> = examples
            .iter()
            .map(|e| {
                let mut feats: Vec<(u64, f32)> = Vec::new();
                for (hash, weight) in features(&e.text) {
                    match feats.iter_mut().find(|(f, _)| *f == hash) {
                        Some((_, w)) => *w += weight,
                        None => feats.push((hash, weight)),
                    }
                }
                feats
            })
            .collect();
        let mut vocab: Vec<u64> = per_example.iter().flatten().map(|(h, _)| *h).collect();
        vocab.sort_unstable();
        vocab.dedup();
        vocab.shrink_to_fit();
        let id_of = |h: u64| vocab.binary_search(&h).unwrap_or(0) as u32;
        let per_example: Vec<Vec<(u32, f32)>> = per_example
            .into_iter()
            .map(|feats| feats.into_iter().map(|(h, w)| (id_of(h), w)).collect())
            .collect();
        let mut df: Vec<u32> = vec![0; vocab.len()];
        for feats in &per_example {
            for (id, _) in feats {
                if let Some(d) = df.get_mut(*id as usize) {
                    *d += 1;
                }
            }
        }
        let n = examples.len().max(1) as f32;
        let idf: Vec<f32> = df
            .iter()
            .map(|&d| ((1.0 + n) / (1.0 + d as f32)).ln().max(0.05))
            .collect();
        // Unit vectors of the examples, then the postings laid out feature by feature, each list in
        // example order.
        let unit: Vec<Vec<(u32, f32)>> = per_example
            .iter()
            .map(|feats| {
                let weighted: Vec<(u32, f32)> = feats
                    .iter()
                    .map(|&(id, tf)| (id, tf * idf_of(&idf, id)))
                    .collect();
                let norm = weighted.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
                if norm == 0.0 {
                    return Vec::new();
                }
                weighted.into_iter().map(|(id, w)| (id, w / norm)).collect()
            })
            .collect();
        let mut post_start: Vec<u32> = vec![0; vocab.len() + 1];
        for (id, _) in unit.iter().flatten() {
            if let Some(c) = post_start.get_mut(*id as usize + 1) {
                *c += 1;
            }
        }
        for i in 1..post_start.len() {
            post_start[i] += post_start[i - 1];
        }
        let total = post_start.last().copied().unwrap_or(0) as usize;
        let mut fill: Vec<u32> = post_start.clone();
        let mut ids = vec![0u32; total];
        let mut post_weights = vec![0f32; total];
        for (e, feats) in unit.iter().enumerate() {
            for &(id, w) in feats {
                if let Some(at) = fill.get_mut(id as usize) {
                    if let Some(p) = ids.get_mut(*at as usize) {
                        *p = e as u32;
                    }
                    if let Some(p) = post_weights.get_mut(*at as usize) {
                        *p = w;
                    }
                    *at += 1;
                }
            }
        }
        let post_ids = if examples.len() <= 1 << 16 {
            PostingIds::Narrow(ids.into_iter().map(|e| e as u16).collect())
        } else {
            PostingIds::Wide(ids)
        };
        let max_idf = idf.iter().copied().fold(1.0, f32::max);
        let buckets = buckets(&vocab);
        let vocab: Vec<Feature> = vocab
            .iter()
            .zip(&idf)
            .zip(&post_start)
            .map(|((&hash, &idf), &start)| Feature { hash, start, idf })
            .collect();
        let mut runs: Vec<(u32, u32)> = Vec::new();
        for (e, example) in examples.iter().enumerate() {
            let t = example.target as u32;
            match runs.last_mut() {
                Some((last, end)) if *last == t => *end = e as u32 + 1,
                _ => runs.push((t, e as u32 + 1)),
            }
        }
        runs.shrink_to_fit();
        Matcher {
            targets,
            examples,
            vocab,
            buckets,
            post_ids,
            post_weights,
            runs,
            max_idf,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.examples.is_empty()
    }

    /// How many postings the index holds, and their bytes.
    pub fn postings(&self) -> (usize, usize) {
        let ids = match &self.post_ids {
            PostingIds::Narrow(ids) => 2 * ids.len(),
            PostingIds::Wide(ids) => 4 * ids.len(),
        };
        (self.post_weights.len(), ids + 4 * self.post_weights.len())
    }

    /// Every target with its best similarity to the message, best first (ties: earlier target).
    pub fn rank(&self, norm: &str) -> Vec<(usize, f32)> {
        if self.examples.is_empty() || norm.is_empty() {
            return Vec::new();
        }
        // Known features summed per feature, in order of first appearance (so the sums are the
        // same on every run), unknown ones into the query's length. The occurrences are grouped by
        // hash first (a small table), so each distinct feature is looked up once.
        let feats = features(norm);
        let slots = (feats.len() * 2).next_power_of_two().max(16);
        let mask = slots - 1;
        // Slot: 1 + the index in `distinct` of the hash there, 0 when empty.
        let mut table = vec![0u32; slots];
        // Each distinct hash in order of first appearance, with its id once looked up.
        let mut distinct: Vec<(u64, Option<u32>)> = Vec::with_capacity(feats.len());
        let mut group_of: Vec<u32> = Vec::with_capacity(feats.len());
        for &(hash, _) in &feats {
            let mut slot = (hash ^ (hash >> 29)) as usize & mask;
            let group = loop {
                match table.get(slot).copied() {
                    Some(0) | None => {
                        distinct.push((hash, None));
                        if let Some(t) = table.get_mut(slot) {
                            *t = distinct.len() as u32;
                        }
                        break distinct.len() - 1;
                    }
                    Some(g) if distinct.get(g as usize - 1).is_some_and(|d| d.0 == hash) => {
                        break g as usize - 1;
                    }
                    Some(_) => slot = (slot + 1) & mask,
                }
            };
            group_of.push(group as u32);
        }
        for (hash, id) in &mut distinct {
            *id = self.id_of(*hash);
        }
        // Known features: weights summed in message order from the first on, in order of first
        // appearance. Unknown features count in the query's length too, occurrence by occurrence,
        // so a long message about something else does not match on one shared word: each weighs
        // as a rare one.
        let mut query: Vec<(u32, f32)> = Vec::with_capacity(distinct.len());
        // The place in `query` of each distinct hash that is known.
        let mut place: Vec<u32> = vec![u32::MAX; distinct.len()];
        let mut unseen = 0f32;
        for (&(_, weight), &group) in feats.iter().zip(&group_of) {
            let group = group as usize;
            match distinct.get(group).and_then(|d| d.1) {
                Some(id) => match place.get(group).copied() {
                    Some(at) if at != u32::MAX => {
                        if let Some(q) = query.get_mut(at as usize) {
                            q.1 += weight;
                        }
                    }
                    _ => {
                        if let Some(p) = place.get_mut(group) {
                            *p = query.len() as u32;
                        }
                        query.push((id, weight));
                    }
                },
                None => unseen += weight * weight,
            }
        }
        let weighted: Vec<(u32, f32)> = query
            .iter()
            .map(|&(id, tf)| {
                let idf = self.vocab.get(id as usize).map_or(1.0, |f| f.idf);
                (id, tf * idf)
            })
            .collect();
        let max_idf = self.max_idf;
        let norm_q = (weighted.iter().map(|(_, w)| w * w).sum::<f32>()
            + unseen * max_idf * max_idf * 0.25)
            .sqrt();
        if norm_q == 0.0 {
            return Vec::new();
        }
        let mut scores = vec![0f32; self.examples.len()];
        let total = self.post_weights.len();
        for &(id, w) in &weighted {
            let Some(from) = self.vocab.get(id as usize).map(|f| f.start as usize) else {
                continue;
            };
            let to = self
                .vocab
                .get(id as usize + 1)
                .map_or(total, |f| f.start as usize);
            let range = from..to;
            let weights = self.post_weights.get(range.clone()).unwrap_or(&[]);
            match &self.post_ids {
                PostingIds::Narrow(ids) => {
                    add_postings(ids.get(range).unwrap_or(&[]), weights, w, &mut scores)
                }
                PostingIds::Wide(ids) => {
                    add_postings(ids.get(range).unwrap_or(&[]), weights, w, &mut scores)
                }
            }
        }
        // Each target's best example: the maximum of its raw sums, divided once. The same figure
        // as the maximum of each sum divided (a correctly rounded division by a positive number
        // keeps the order of what it divides), without a division and an unpredictable branch per
        // example; the maximum of a run is taken eight lanes at a time.
        let mut best = vec![0f32; self.targets.len()];
        let mut from = 0usize;
        for &(t, end) in &self.runs {
            let run = scores.get(from..end as usize).unwrap_or(&[]);
            from = end as usize;
            let m = max_or_zero(run);
            if let Some(b) = best.get_mut(t as usize)
                && m > *b
            {
                *b = m;
            }
        }
        let mut ranked: Vec<(usize, f32)> = best
            .into_iter()
            .enumerate()
            .filter(|(_, s)| *s > 0.0)
            .map(|(t, s)| (t, s / norm_q))
            .filter(|(_, s)| *s > 0.0)
            .collect();
        // Targets are distinct: a total order, so the unstable sort gives the same ranking.
        ranked.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked
    }

    /// A feature's index: its place in `vocab`, searched within its bucket only.
    fn id_of(&self, hash: u64) -> Option<u32> {
        let bucket = (hash >> (64 - BUCKET_BITS)) as usize;
        let (&from, &to) = (self.buckets.get(bucket)?, self.buckets.get(bucket + 1)?);
        let run = self.vocab.get(from as usize..to as usize)?;
        run.binary_search_by_key(&hash, |f| f.hash)
            .ok()
            .map(|i| from + i as u32)
    }

    /// The similarity of the best target (0 when nothing matches).
    pub fn best_score(&self, norm: &str) -> f32 {
        self.rank(norm).first().map(|r| r.1).unwrap_or(0.0)
    }

    /// The best similarity of any target in `flow` in a ranking; `None` when the flow has no examples.
    pub fn flow_score(&self, ranked: &[(usize, f32)], flow: &str) -> Option<f32> {
        if !self.targets.iter().any(|t| t.position.flow == flow) {
            return None;
        }
        Some(
            ranked
                .iter()
                .find(|(t, _)| {
                    self.targets
                        .get(*t)
                        .is_some_and(|t| t.position.flow == flow)
                })
                .map(|r| r.1)
                .unwrap_or(0.0),
        )
    }

    pub fn classify(&self, norm: &str) -> Verdict {
        self.verdict(&self.rank(norm))
    }

    /// How sure a ranking is.
    pub fn verdict(&self, ranked: &[(usize, f32)]) -> Verdict {
        let Some(&(top, score)) = ranked.first() else {
            return Verdict::Poor;
        };
        let second = ranked.get(1).map(|r| r.1).unwrap_or(0.0);
        if score >= CONFIDENT && score - second >= MARGIN {
            return Verdict::Confident(top);
        }
        if score >= UNSURE {
            let offered: Vec<usize> = ranked
                .iter()
                .take(MAX_OFFERED)
                .filter(|(_, s)| *s >= UNSURE && *s >= score * 0.75)
                .map(|(t, _)| *t)
                .collect();
            if offered.len() == 1 && score >= CONFIDENT {
                return Verdict::Confident(top);
            }
            return Verdict::Unsure(offered);
        }
        Verdict::Poor
    }

    /// k-fold cross-validation of the examples: each fold is classified by a matcher built from the
    /// others. Returns (correct top-1 targets, examples tried).
    pub fn cross_validate(&self, k: usize) -> (usize, usize) {
        let k = k.max(2);
        let mut correct = 0;
        let mut total = 0;
        for fold in 0..k {
            let train: Vec<Example> = self
                .examples
                .iter()
                .enumerate()
                .filter(|(i, _)| i % k != fold)
                .map(|(_, e)| e.clone())
                .collect();
            let m = Matcher::new(self.targets.clone(), train);
            for (_, e) in self
                .examples
                .iter()
                .enumerate()
                .filter(|(i, _)| i % k == fold)
            {
                total += 1;
                if m.rank(&e.text).first().map(|r| r.0) == Some(e.target) {
                    correct += 1;
                }
            }
        }
        (correct, total)
    }
}

/// The top bits of a feature hash that pick its bucket (4,096 buckets, 16 KiB, for ~50,000
/// features: about a dozen hashes each).
const BUCKET_BITS: u32 = 12;

/// The start of each bucket's run in the sorted `vocab`, and the end of the last.
fn buckets(vocab: &[u64]) -> Vec<u32> {
    (0..=1u64 << BUCKET_BITS)
        .map(|b| vocab.partition_point(|&h| (h >> (64 - BUCKET_BITS)) < b) as u32)
        .collect()
}

/// The examples of the postings, in 16 bits while there are at most 65,536 examples (the dialogs
/// have ~2,100), else in 32.
#[derive(Clone, Debug)]
enum PostingIds {
    Narrow(Vec<u16>),
    Wide(Vec<u32>),
}

impl Default for PostingIds {
    fn default() -> PostingIds {
        PostingIds::Narrow(Vec::new())
    }
}

/// An example's number in a posting.
trait ExampleId: Copy {
    fn index(self) -> usize;
}

impl ExampleId for u16 {
    fn index(self) -> usize {
        usize::from(self)
    }
}

impl ExampleId for u32 {
    fn index(self) -> usize {
        self as usize
    }
}

/// Adds a feature's weight in the query times its weight in each example that has it.
fn add_postings<I: ExampleId>(ids: &[I], weights: &[f32], w: f32, scores: &mut [f32]) {
    for (&e, &ew) in ids.iter().zip(weights) {
        if let Some(s) = scores.get_mut(e.index()) {
            *s += w * ew;
        }
    }
}

/// The largest of `xs` and 0 (eight lanes at a time: the compiler makes them one vector compare).
fn max_or_zero(xs: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let mut chunks = xs.chunks_exact(8);
    for chunk in &mut chunks {
        for (lane, &x) in lanes.iter_mut().zip(chunk) {
            if x > *lane {
                *lane = x;
            }
        }
    }
    let mut m = 0f32;
    for &x in lanes.iter().chain(chunks.remainder()) {
        if x > m {
            m = x;
        }
    }
    m
}

fn idf_of(idf: &[f32], id: u32) -> f32 {
    idf.get(id as usize).copied().unwrap_or(1.0)
}

/// The features of a normalised text with their weights: words (1.0), adjacent word pairs (0.7) and
/// character trigrams of each word with its edges marked (0.35 each, so a typo still shares most of
/// them).
fn features(norm: &str) -> Vec<(u64, f32)> {
    let words: Vec<&str> = norm
        .split(' ')
        .filter(|w| !w.is_empty() && !is_stopword(w))
        .collect();
    // A word, a pair and one trigram per byte of the word at most.
    let room: usize = words.iter().map(|w| w.len() + 2).sum();
    let mut out: Vec<(u64, f32)> = Vec::with_capacity(room);
    let mut padded: Vec<u8> = Vec::with_capacity(32);
    for (i, w) in words.iter().enumerate() {
        out.push((hash(b'w', &[w.as_bytes()]), 1.0));
        if let Some(next) = words.get(i + 1) {
            out.push((hash(b'p', &[w.as_bytes(), b" ", next.as_bytes()]), 0.7));
        }
        if w.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        mark_edges(w, &mut padded);
        for tri in padded.windows(3) {
            out.push((hash(b'c', &[tri]), 0.35));
        }
    }
    out
}

/// `word` with its edges marked (`#word#`) in `buf`, whose windows are a word's character n-grams
/// (the matcher's trigrams and the emergency detector's trigrams and 4-grams).
pub(super) fn mark_edges(word: &str, buf: &mut Vec<u8>) {
    buf.clear();
    buf.push(b'#');
    buf.extend_from_slice(word.as_bytes());
    buf.push(b'#');
}

/// Whether a word is in [`STOPWORDS`] (sorted once, then a binary search).
fn is_stopword(word: &str) -> bool {
    static SORTED: std::sync::LazyLock<Vec<&'static str>> = std::sync::LazyLock::new(|| {
        let mut v = STOPWORDS.to_vec();
        v.sort_unstable();
        v.dedup();
        v
    });
    SORTED.binary_search(&word).is_ok()
}

/// FNV-1a over a kind byte and parts: the same on every machine and every run.
pub(super) fn hash(kind: u8, parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |b: u8| {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    };
    eat(kind);
    for part in parts {
        for &b in *part {
            eat(b);
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(flow: &str) -> Target {
        Target {
            position: Position::new(flow, "start"),
            label: Text::default(),
        }
    }

    fn matcher() -> Matcher {
        let ex = |t: usize, text: &str| Example {
            target: t,
            lang: Lang::Id,
            text: text.to_string(),
        };
        Matcher::new(
            vec![target("syarat"), target("biaya"), target("paspor")],
            vec![
                ex(0, "syarat kerja ke taiwan apa saja"),
                ex(0, "umur berapa boleh daftar pmi"),
                ex(1, "biaya ke hong kong berapa"),
                ex(1, "pt minta uang 10 juta untuk proses wajar tidak"),
                ex(2, "paspor saya dipegang pt boleh tidak"),
                ex(2, "agen menahan paspor adik saya"),
            ],
        )
    }

    #[test]
    fn the_nearest_example_wins_and_typos_still_match() {
        let m = matcher();
        assert_eq!(m.classify("paspor sy ditahan agen"), Verdict::Confident(2));
        assert_eq!(
            m.rank("biayanya brapa ke hongkong").first().map(|r| r.0),
            Some(1)
        );
        assert_eq!(m.classify("cuaca hari ini cerah sekali"), Verdict::Poor);
    }

    #[test]
    fn every_feature_is_found_in_its_bucket_and_no_other_hash_is() {
        let m = matcher();
        for (i, &Feature { hash: h, .. }) in m.vocab.iter().enumerate() {
            assert_eq!(m.id_of(h), Some(i as u32));
        }
        for text in ["zzzz qqqq", "xylofon"] {
            for (h, _) in features(text) {
                assert_eq!(
                    m.id_of(h),
                    m.vocab
                        .binary_search_by_key(&h, |f| f.hash)
                        .ok()
                        .map(|i| i as u32)
                );
            }
        }
    }

    #[test]
    fn a_targets_score_is_its_best_example_wherever_its_examples_are_listed() {
        // The examples of a target need not be consecutive: each run counts. Listed apart or
        // together, every example sums the same features in the same order, so the figures are
        // the same to the bit.
        let ex = |t: usize, text: &str| Example {
            target: t,
            lang: Lang::Id,
            text: text.to_string(),
        };
        let texts = [
            (0, "syarat kerja ke taiwan apa saja"),
            (1, "biaya ke hong kong berapa"),
            (0, "umur berapa boleh daftar pmi"),
            (2, "paspor saya dipegang pt boleh tidak"),
            (1, "pt minta uang 10 juta untuk proses wajar tidak"),
            (2, "agen menahan paspor adik saya"),
            (0, "syarat umur kerja ke hong kong"),
        ];
        let targets = vec![target("syarat"), target("biaya"), target("paspor")];
        let apart = Matcher::new(
            targets.clone(),
            texts.iter().map(|&(t, x)| ex(t, x)).collect(),
        );
        let mut sorted = texts.to_vec();
        sorted.sort_by_key(|&(t, _)| t);
        let together = Matcher::new(targets, sorted.iter().map(|&(t, x)| ex(t, x)).collect());
        assert_eq!(apart.runs.len(), 7);
        assert_eq!(together.runs.len(), 3);
        for q in [
            "syarat umur ke hongkong brp",
            "paspor adik ditahan pt",
            "biaya proses 10 juta",
            "zzz",
        ] {
            let a = apart.rank(q);
            assert_eq!(a, together.rank(q), "{q}");
            // Every score is a cosine.
            for &(t, s) in &a {
                assert!(s > 0.0 && s <= 1.0001, "{q}: {t} {s}");
            }
        }
        assert_eq!(
            apart
                .rank("syarat umur ke hongkong brp")
                .first()
                .map(|r| r.0),
            Some(0)
        );
    }

    #[test]
    fn examples_in_16_or_32_bits_score_the_same() {
        let narrow = matcher();
        let PostingIds::Narrow(ids) = &narrow.post_ids else {
            panic!("six examples are numbered in 16 bits");
        };
        let mut wide = narrow.clone();
        wide.post_ids = PostingIds::Wide(ids.iter().map(|&e| u32::from(e)).collect());
        for q in [
            "paspor sy ditahan agen",
            "biaya ke hongkong",
            "syarat umur",
            "zzz",
        ] {
            assert_eq!(narrow.rank(q), wide.rank(q), "{q}");
        }
        assert_eq!(
            narrow.postings().1 + 2 * narrow.postings().0,
            wide.postings().1
        );
    }

    #[test]
    fn the_largest_of_a_run_is_found_in_every_lane() {
        for len in 0..40usize {
            for at in 0..len {
                let mut xs: Vec<f32> = (0..len).map(|i| (i % 7) as f32 * 0.01).collect();
                xs[at] = 0.5 + at as f32 * 0.001;
                assert_eq!(max_or_zero(&xs), 0.5 + at as f32 * 0.001, "{len} {at}");
            }
        }
        assert_eq!(max_or_zero(&[]), 0.0);
        assert_eq!(max_or_zero(&[0.0; 9]), 0.0);
    }

    #[test]
    fn the_same_input_always_gives_the_same_answer() {
        let a = matcher().rank("pt minta dp 10 juta normal tidak");
        let b = matcher().rank("pt minta dp 10 juta normal tidak");
        assert_eq!(a, b);
    }
}
