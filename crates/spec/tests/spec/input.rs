//! The input steps (`keys`, `type`, `mouse`): key names, the US layout and
//! the tablet, checked at load with the position of the fault.

use kennel_spec::keys::{text_keys, KeyCombo, MouseButton};
use kennel_spec::StepKind;

use crate::{load, load_err};

fn combos(names: &[&str]) -> Vec<KeyCombo> {
    names
        .iter()
        .map(|n| KeyCombo::parse(n).expect("combo"))
        .collect()
}

#[test]
fn keys_step_holds_each_combination_parsed() {
    let test = load(
        "[machine]\ndisplay = \"std\"\n[[step]]\nkeys = [\"ctrl-alt-f2\", \"ret\", \"shift-a\"]\n",
    );

    assert_eq!(
        test.steps[0].kind,
        StepKind::Keys(combos(&["ctrl-alt-f2", "ret", "shift-a"]))
    );
    assert_eq!(test.steps[0].describe(), "keys ctrl-alt-f2 ret shift-a");
}

#[test]
fn unknown_key_name_is_refused_at_its_item_with_a_suggestion_and_the_valid_names() {
    let err =
        load_err("[machine]\ndisplay = \"std\"\n[[step]]\nkeys = [\"ret\", \"ctrl-enter\"]\n");

    assert!(
        err.starts_with(
            "tests/qmp/t.toml:4:16: unknown key `enter` in `ctrl-enter`: did you mean `ret`? \
             QEMU's key names are `a` to `z`, `0` to `9`, `f1` to `f24`"
        ),
        "{err}"
    );
    assert!(err.contains("`kp_enter`") && err.contains("`spc`"), "{err}");
}

#[test]
fn key_name_without_a_likely_meaning_is_refused_without_a_guess() {
    let err = load_err("[machine]\ndisplay = \"std\"\n[[step]]\nkeys = [\"hyper\"]\n");

    assert!(
        err.starts_with("tests/qmp/t.toml:4:9: unknown key `hyper`: QEMU's key names are"),
        "{err}"
    );
}

#[test]
fn empty_name_in_a_combination_is_refused() {
    let err = load_err("[machine]\ndisplay = \"std\"\n[[step]]\nkeys = [\"ctrl--x\"]\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:4:9: empty key name in \"ctrl--x\": expected QEMU key names joined by `-`, like `ctrl-alt-f2`"
    );
}

#[test]
fn empty_keys_list_is_refused() {
    let err = load_err("[machine]\ndisplay = \"std\"\n[[step]]\nkeys = []\n");

    assert!(
        err.starts_with("tests/qmp/t.toml:4:8: `keys` is empty"),
        "{err}"
    );
}

#[test]
fn keys_added_after_qemu_7_2_say_since_when() {
    let combo = KeyCombo::parse("shift-f13").expect("combo");

    let since: Vec<Option<(u32, u32)>> = combo.keys().iter().map(|k| k.since()).collect();
    assert_eq!(since, [None, Some((8, 0))]);
}

#[test]
fn text_maps_capitals_and_symbols_to_shifted_keys() {
    let typed: Vec<String> = text_keys("echo A_b > \"/t\"\n")
        .expect("typable")
        .iter()
        .map(ToString::to_string)
        .collect();

    assert_eq!(
        typed,
        [
            "e",
            "c",
            "h",
            "o",
            "spc",
            "shift-a",
            "shift-minus",
            "b",
            "spc",
            "shift-dot",
            "spc",
            "shift-apostrophe",
            "slash",
            "t",
            "shift-apostrophe",
            "ret"
        ]
    );
}

#[test]
fn every_printable_ascii_character_has_a_key() {
    let printable: String = (' '..='~').collect();

    let typed = text_keys(&printable).expect("typable");

    assert_eq!(typed.len(), 95);
}

#[test]
fn type_step_keeps_its_text() {
    let test = load("[machine]\ndisplay = \"std\"\n[[step]]\ntype = \"root\\n\"\n");

    let StepKind::Type(text) = &test.steps[0].kind else {
        panic!("not a type step: {:?}", test.steps[0].kind);
    };
    assert_eq!(text.literal(), Some("root\n"));
}

#[test]
fn character_without_a_key_is_refused_naming_it() {
    let err = load_err("[machine]\ndisplay = \"std\"\n[[step]]\ntype = \"ls\\r\"\n");

    assert!(
        err.starts_with(
            "tests/qmp/t.toml:4:8: no key of a US keyboard types '\\r' (character 3 of the text)"
        ),
        "{err}"
    );
}

#[test]
fn type_with_a_variable_is_checked_when_rendered() {
    let test = load("[machine]\ndisplay = \"std\"\n[[step]]\ntype = \"${word}\\n\"\n");

    assert!(matches!(test.steps[0].kind, StepKind::Type(_)));
}

#[test]
fn mouse_step_moves_and_clicks_on_a_machine_with_a_tablet() {
    let test = load(
        "[machine]\ndisplay = \"std\"\ntablet = true\n[[step]]\nmouse = { move = [100, 200], click = \"left\" }\n",
    );

    let StepKind::Mouse(action) = &test.steps[0].kind else {
        panic!("not a mouse step: {:?}", test.steps[0].kind);
    };
    assert_eq!(action.to, Some((100, 200)));
    assert_eq!(
        action.click,
        Some(MouseButton::parse("left").expect("button"))
    );
    assert!(test.machines[0].tablet);
}

#[test]
fn mouse_step_on_a_machine_without_a_tablet_is_refused() {
    let err = load_err("[machine]\ndisplay = \"std\"\n[[step]]\nmouse = { click = \"left\" }\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:3:1: a `mouse` step needs a pointing device: add `tablet = true` to machine `main` (a USB tablet kennel adds)"
    );
}

#[test]
fn mouse_coordinate_must_be_a_pixel() {
    let err = load_err(
        "[machine]\ndisplay = \"std\"\ntablet = true\n[[step]]\nmouse = { move = [10, -1] }\n",
    );

    assert_eq!(
        err,
        "tests/qmp/t.toml:5:23: `move` coordinate -1 is not a pixel: expected 0 or more"
    );
}

#[test]
fn unknown_mouse_button_is_refused_with_the_buttons() {
    let err = load_err(
        "[machine]\ndisplay = \"std\"\ntablet = true\n[[step]]\nmouse = { click = \"both\" }\n",
    );

    assert!(
        err.starts_with(
            "tests/qmp/t.toml:5:19: unknown mouse button `both`: expected one of `left`, `middle`, `right`"
        ),
        "{err}"
    );
}

#[test]
fn mouse_without_move_or_click_is_refused() {
    let err = load_err("[machine]\ndisplay = \"std\"\ntablet = true\n[[step]]\nmouse = {}\n");

    assert!(
        err.starts_with("tests/qmp/t.toml:5:9: `mouse` needs"),
        "{err}"
    );
}

#[test]
fn input_step_on_a_machine_without_a_display_is_refused() {
    let err = load_err("[machine]\nguest = \"busybox\"\n[[step]]\ntype = \"root\\n\"\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:3:1: a `type` step needs a screen: add `display = \"std\"` \
         (or another of `std`, `virtio`, `cirrus`, `ramfb`, `bochs`) to machine `main`"
    );
}
