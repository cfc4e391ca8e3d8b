//! `keys` and `type`: key presses reach the machine in order, and what QEMU
//! refuses is an ERROR with its message.

use super::*;

#[test]
fn keys_are_pressed_in_order_and_type_presses_the_texts_keys() {
    let toml = r#"[variants]
word = ["ok"]

[machine]
type = "none"
display = "std"

[[step]]
keys = ["ctrl-alt-f2", "ret"]

[[step]]
type = "Hi ${word}\n"

[[step]]
console = "[ctrl-alt-f2][ret][shift-h][i][spc][o][k][ret]"
"#;
    let script = Script::new().with_console(&[]);

    let outcome = run(toml, script, AMPLE);

    assert_eq!(verdict(&outcome), (Status::Pass, ""));
}

#[test]
fn rendered_text_without_keys_is_an_error_naming_the_character() {
    let toml = r#"[variants]
word = ["née"]

[machine]
type = "none"
display = "std"

[[step]]
type = "${word}"
"#;
    let script = Script::new().with_console(&[]);

    let outcome = run(toml, script, AMPLE);

    assert_eq!(
        verdict(&outcome),
        (
            Status::Error,
            "step 1 (t.toml:8, type \"${word}\"): no key of a US keyboard types 'é' (character 2 of the text): \
             `type` takes printable ASCII, `\\n` (ret), `\\t` (tab), `\\u{8}` (backspace) and `\\u{1b}` (esc); \
             send other keys with `keys`"
        )
    );
}

#[test]
fn keys_qemu_refuses_are_an_error_with_qemus_message() {
    let toml = r#"[machine]
type = "none"
display = "std"

[[step]]
keys = ["alt-f2"]
"#;
    let script = Script::new().refusing_keys("Invalid parameter 'keys'");

    let outcome = run(toml, script, AMPLE);

    assert_eq!(
        verdict(&outcome),
        (
            Status::Error,
            "step 1 (t.toml:5, keys alt-f2): QEMU refused key alt-f2: GenericError: Invalid parameter 'keys'"
        )
    );
}

#[test]
fn mouse_moves_then_clicks() {
    let toml = r#"[machine]
type = "none"
display = "std"
tablet = true

[[step]]
mouse = { move = [10, 20], click = "left" }

[[step]]
console = "[mouse move to 10,20, click left]"
"#;
    let script = Script::new().with_console(&[]);

    let outcome = run(toml, script, AMPLE);

    assert_eq!(verdict(&outcome), (Status::Pass, ""));
}
