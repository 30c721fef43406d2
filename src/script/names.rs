//! Suggestions for misspelt names: the state or placeholder a script author most likely meant.

/// The known name closest to a misspelt `name`, if one is close enough to be what was meant:
/// at most a quarter of its letters changed, swapped, added or dropped.
pub(super) fn nearest<'a>(name: &str, known: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let reach = (name.chars().count() / 4).max(1);
    known
        .map(|k| (strsim::damerau_levenshtein(name, k), k))
        .filter(|(d, _)| *d <= reach)
        .min()
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::nearest;

    #[test]
    fn a_slip_of_a_letter_or_two_finds_the_name_and_a_different_word_finds_none() {
        let states = ["verify", "offer", "greet"];
        assert_eq!(nearest("verfy", states.into_iter()), Some("verify"));
        assert_eq!(nearest("ofer", states.into_iter()), Some("offer"));
        assert_eq!(nearest("goodbye", states.into_iter()), None);
        let known = ["customer.first_name", "customer.name"];
        assert_eq!(
            nearest("customer.frist_name", known.into_iter()),
            Some("customer.first_name")
        );
        assert_eq!(nearest("customer.ssn", known.into_iter()), None);
    }
}
