//! Job ids: `YYYYMMDDTHHMMSS-<8 hex digits>`, the digits random.

#[test]
fn job_ids_started_together_differ_in_their_random_digits() {
    let ids: Vec<String> = (0..64).map(|_| kennel_runner::new_job_id()).collect();

    for id in &ids {
        let (stamp, digits) = id.split_once('-').expect("stamp-digits");
        assert_eq!(stamp.len(), 15, "{id}");
        assert_eq!(&stamp[8..9], "T", "{id}");
        assert_eq!(digits.len(), 8, "{id}");
        assert!(digits.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    }
    let mut digits: Vec<&str> = ids
        .iter()
        .filter_map(|id| id.split_once('-'))
        .map(|(_, d)| d)
        .collect();
    digits.sort_unstable();
    digits.dedup();
    assert_eq!(digits.len(), ids.len(), "{ids:?}");
}
