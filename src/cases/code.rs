//! Ticket codes: `PKL-7KQ2MX`. A prefix from the config, a dash, and six characters drawn from an alphabet
//! without look-alikes (no 0/O, 1/I/L), from randomness the engine chose for the step.
//!
//! Invariants: a code is never sequential or derived from anything a user can see (time, counters, ids);
//! uniqueness is checked against the store by [`unique`] before a code is used; reading a typed code
//! tolerates case, spaces, dashes and at most one look-alike character, and nothing else.

/// The characters of a code: digits and capitals that are hard to confuse when read aloud, handwritten
/// or typed on a phone.
pub const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

/// Characters after the prefix. 31^6 is about 887 million codes.
pub const LEN: usize = 6;

/// Attempts before [`unique`] gives up (each collision is about one in a million with a full store).
pub const MAX_ATTEMPTS: u32 = 64;

/// SplitMix64: a good 64-bit mixer; one step per call.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The code for one seed. Different seeds give independent-looking codes.
pub fn generate(prefix: &str, seed: u64) -> String {
    let mut state = seed;
    let mut out = String::with_capacity(prefix.len() + 1 + LEN);
    out.push_str(prefix);
    out.push('-');
    let mut produced = 0;
    // Rejection sampling on 5-bit groups keeps the characters uniform; 32 draws of 12 groups each is
    // far more than needed (each group is rejected with probability 1/32).
    'draws: for _ in 0..32 {
        let mut bits = splitmix(&mut state);
        for _ in 0..12 {
            let v = (bits & 31) as usize;
            bits >>= 5;
            if v < ALPHABET.len() {
                out.push(char::from(ALPHABET[v]));
                produced += 1;
                if produced == LEN {
                    break 'draws;
                }
            }
        }
    }
    out
}

/// The `attempt`-th seed derived from `seed` (attempt 0 is `seed` itself).
pub fn derive(seed: u64, attempt: u32) -> u64 {
    if attempt == 0 {
        return seed;
    }
    let mut state = seed ^ u64::from(attempt).wrapping_mul(0xD6E8_FEB8_6659_FD93);
    splitmix(&mut state)
}

/// A code for `seed` that `exists` says is free; tries derived seeds on a collision.
pub fn unique<E>(
    prefix: &str,
    seed: u64,
    mut exists: impl FnMut(&str) -> Result<bool, E>,
) -> Result<Option<String>, E> {
    for attempt in 0..MAX_ATTEMPTS {
        let code = generate(prefix, derive(seed, attempt));
        if !exists(&code)? {
            return Ok(Some(code));
        }
    }
    Ok(None)
}

/// Look-alikes: what a user may type instead of a code character. Characters outside the alphabet map
/// to the alphabet characters they resemble; some alphabet characters resemble each other.
fn look_alikes(c: char) -> &'static [char] {
    match c {
        '0' | 'O' => &['D', 'Q'],
        '1' | 'I' | 'L' => &['J', 'T', '7'],
        '5' => &['S'],
        'S' => &['5'],
        '2' => &['Z'],
        'Z' => &['2'],
        '8' => &['B'],
        'B' => &['8'],
        '6' => &['G'],
        'G' => &['6'],
        'U' => &['V'],
        'V' => &['U'],
        _ => &[],
    }
}

fn in_alphabet(c: char) -> bool {
    c.is_ascii() && ALPHABET.contains(&(c as u8))
}

/// The six code characters found in what the user typed ("cek status pkl 7kq2mx", "PKL-7KQ2MX",
/// "7kq 2mx"), upper-cased, or `None`. The prefix is optional. Only characters that could belong to a
/// code are considered, so a longer word is never mistaken for one.
pub fn extract(prefix: &str, text: &str) -> Option<String> {
    let prefix = prefix.to_ascii_uppercase();
    let upper: String = text
        .chars()
        .take(200)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    // With the prefix: take what follows it, ignoring spaces, dashes, dots and underscores.
    if !prefix.is_empty()
        && let Some(at) = upper.find(&prefix)
    {
        let rest: String = upper[at + prefix.len()..]
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '_' | '.' | ':' | '#'))
            .take(LEN)
            .collect();
        if rest.chars().count() == LEN && rest.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Some(rest);
        }
    }
    // A message that is only the six characters (the answer to "type your code").
    let bare: String = upper
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '_' | '.'))
        .collect();
    if bare.chars().count() == LEN
        && bare
            .chars()
            .all(|c| in_alphabet(c) || !look_alikes(c).is_empty())
    {
        return Some(bare);
    }
    // Without it: a whole word of six code-like characters (two words of three also work: "7KQ 2MX").
    let words: Vec<String> = upper
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    let plausible = |w: &str| {
        w.chars().count() == LEN
            && w.chars().any(|c| c.is_ascii_digit())
            && w.chars()
                .all(|c| in_alphabet(c) || !look_alikes(c).is_empty())
    };
    if let Some(w) = words.iter().find(|w| plausible(w)) {
        return Some(w.clone());
    }
    for pair in words.windows(2) {
        let joined = format!("{}{}", pair[0], pair[1]);
        if pair[0].len() == 3 && plausible(&joined) {
            return Some(joined);
        }
    }
    None
}

/// The code exactly as typed (case, spaces and dashes aside), when every character is valid.
pub fn exact(prefix: &str, text: &str) -> Option<String> {
    let chars = extract(prefix, text)?;
    chars
        .chars()
        .all(in_alphabet)
        .then(|| format!("{prefix}-{chars}"))
}

/// The codes a typed code may stand for, most likely first: the code itself when every character is
/// valid, then the codes one look-alike away. Empty when it cannot be a code.
pub fn candidates(prefix: &str, text: &str) -> Vec<String> {
    let Some(chars) = extract(prefix, text) else {
        return Vec::new();
    };
    let chars: Vec<char> = chars.chars().collect();
    let invalid: Vec<usize> = (0..chars.len())
        .filter(|&i| !in_alphabet(chars[i]))
        .collect();
    let full = |cs: &[char]| format!("{prefix}-{}", cs.iter().collect::<String>());
    let mut out = Vec::new();
    match invalid.len() {
        0 => {
            out.push(full(&chars));
            for i in 0..chars.len() {
                for &alt in look_alikes(chars[i]) {
                    let mut cs = chars.clone();
                    cs[i] = alt;
                    out.push(full(&cs));
                }
            }
        }
        1 => {
            let i = invalid[0];
            for &alt in look_alikes(chars[i]) {
                let mut cs = chars.clone();
                cs[i] = alt;
                out.push(full(&cs));
            }
        }
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_have_the_shape_and_no_look_alikes() {
        for seed in 0..2000u64 {
            let code = generate("PKL", seed.wrapping_mul(0x1234_5678_9ABC));
            assert_eq!(code.len(), 10, "{code}");
            assert!(code.starts_with("PKL-"));
            for c in code[4..].chars() {
                assert!(in_alphabet(c), "{code}");
                assert!(!"01OIL".contains(c), "{code}");
            }
        }
    }

    #[test]
    fn consecutive_seeds_do_not_give_consecutive_codes() {
        let a = generate("PKL", 1);
        let b = generate("PKL", 2);
        let same = a
            .chars()
            .zip(b.chars())
            .skip(4)
            .filter(|(x, y)| x == y)
            .count();
        assert!(same < 4, "{a} {b}");
    }

    #[test]
    fn a_hundred_thousand_unique_codes() {
        let mut taken = HashSet::new();
        let mut seed = 42u64;
        for _ in 0..100_000 {
            seed = splitmix(&mut seed);
            let code = unique("PKL", seed, |c| Ok::<_, ()>(taken.contains(c)))
                .unwrap()
                .unwrap();
            assert!(taken.insert(code));
        }
        assert_eq!(taken.len(), 100_000);
    }

    #[test]
    fn typed_codes_are_read_in_many_forms() {
        for text in [
            "PKL-7KQ2MX",
            "pkl 7kq2mx",
            "cek status PKL-7KQ2MX dong",
            "status pkl-7kq-2mx",
            "7kq2mx",
            "kode saya 7KQ 2MX",
        ] {
            assert_eq!(
                candidates("PKL", text).first().unwrap(),
                "PKL-7KQ2MX",
                "{text}"
            );
        }
        // One look-alike: O for D/Q, 1 for J/T/7.
        let c = candidates("PKL", "pkl-1kq2mx");
        assert!(c.contains(&"PKL-7KQ2MX".to_string()), "{c:?}");
        assert!(!c.contains(&"PKL-1KQ2MX".to_string()));
        // Two invalid characters are not a code; neither is an ordinary word.
        assert!(candidates("PKL", "pkl-10q2mx").is_empty());
        assert!(candidates("PKL", "status laporan saya").is_empty());
        assert!(candidates("PKL", "").is_empty());
    }
}
