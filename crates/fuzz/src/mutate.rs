//! Blind mutations of a byte string: the operators a coverage-less fuzzer
//! needs to step from a real input to a nearby broken one.

use crate::rng::Rng;

/// Bytes that mean something to most of kennel's formats.
const SPECIAL: &[u8] = b"\0\n\r\t \"'\\{}[]()=:,#$%./-+0123456789\x7f\x80\xff\x1b";

/// Numbers written as text, for lengths, counts, offsets and sizes.
const NUMBERS: &[&str] = &[
    "0",
    "-1",
    "1",
    "65536",
    "2147483647",
    "2147483648",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999999",
    "1e309",
    "-0",
    "0x7fffffff",
    "NaN",
];

/// Mutate `data` in place with one to eight operators, drawing extra material
/// from `dictionary` (tokens of the format) and `other` (another input to
/// splice from); the result never exceeds `max_len` bytes.
pub fn mutate(
    rng: &mut Rng,
    data: &mut Vec<u8>,
    dictionary: &[&[u8]],
    other: &[u8],
    max_len: usize,
) {
    let rounds = 1 + rng.below(8);
    for _ in 0..rounds {
        one(rng, data, dictionary, other);
    }
    data.truncate(max_len);
}

fn one(rng: &mut Rng, data: &mut Vec<u8>, dictionary: &[&[u8]], other: &[u8]) {
    let len = data.len();
    match rng.below(12) {
        0 if len > 0 => {
            let at = rng.below(len);
            data[at] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let at = rng.below(len);
            data[at] = if rng.one_in(2) {
                *rng.pick(SPECIAL)
            } else {
                rng.byte()
            };
        }
        2 if len > 0 => {
            let at = rng.below(len);
            let end = (at + 1 + rng.below(32.min(len - at))).min(len);
            data.drain(at..end);
        }
        3 => {
            let at = rng.below(len + 1);
            let n = 1 + rng.below(16);
            let bytes: Vec<u8> = (0..n).map(|_| rng.byte()).collect();
            data.splice(at..at, bytes);
        }
        4 if len > 0 => repeat_a_range(rng, data),
        5 if !dictionary.is_empty() => {
            let at = rng.below(len + 1);
            let token = rng.pick(dictionary).to_vec();
            data.splice(at..at, token);
        }
        6 => replace_a_number(rng, data),
        7 if !other.is_empty() => {
            let from = rng.below(other.len());
            let end = (from + 1 + rng.below(other.len() - from)).min(other.len());
            let at = rng.below(len + 1);
            let cut = (at + rng.below(len - at + 1)).min(len);
            data.splice(at..cut, other[from..end].iter().copied());
        }
        8 if len > 0 => data.truncate(rng.below(len)),
        9 if len >= 4 => {
            let at = rng.below(len - 3);
            let value = *rng.pick(&[u32::MAX, 0x8000_0000, 0x7fff_ffff, 0, 1, 0x0100_0000]);
            let bytes = if rng.one_in(2) {
                value.to_be_bytes()
            } else {
                value.to_le_bytes()
            };
            data[at..at + 4].copy_from_slice(&bytes);
        }
        10 if len > 1 => {
            let a = rng.below(len);
            let b = rng.below(len);
            data.swap(a, b);
        }
        _ => {
            let at = rng.below(len + 1);
            data.insert(at, *rng.pick(SPECIAL));
        }
    }
}

/// Repeat a short range many times: long lines, deep nesting, huge counts.
fn repeat_a_range(rng: &mut Rng, data: &mut Vec<u8>) {
    let len = data.len();
    let at = rng.below(len);
    let end = (at + 1 + rng.below(16)).min(len);
    let piece = data[at..end].to_vec();
    let most = if rng.one_in(8) { 4096 } else { 16 };
    let times = 1 + rng.below(most);
    let repeated: Vec<u8> = piece
        .iter()
        .copied()
        .cycle()
        .take(piece.len() * times)
        .collect();
    data.splice(end..end, repeated);
}

/// Replace a run of ASCII digits (or insert at random) with an edge number.
fn replace_a_number(rng: &mut Rng, data: &mut Vec<u8>) {
    let number = rng.pick(NUMBERS).as_bytes().to_vec();
    let digits: Vec<usize> = (0..data.len())
        .filter(|&i| data[i].is_ascii_digit())
        .collect();
    if digits.is_empty() {
        let at = rng.below(data.len() + 1);
        data.splice(at..at, number);
        return;
    }
    let start = *rng.pick(&digits);
    let mut end = start;
    while end < data.len() && data[end].is_ascii_digit() {
        end += 1;
    }
    data.splice(start..end, number);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_stay_within_the_length_and_change_the_input() {
        let mut rng = Rng::new(7);
        let seed = b"{\"return\": {\"status\": \"running\"}}".to_vec();
        let mut changed = 0;
        for _ in 0..1000 {
            let mut data = seed.clone();
            mutate(&mut rng, &mut data, &[b"\"id\""], b"other input", 64);
            assert!(data.len() <= 64);
            changed += usize::from(data != seed);
        }
        assert!(
            changed > 900,
            "only {changed} of 1000 mutations changed the input"
        );
    }
}
