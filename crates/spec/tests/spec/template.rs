use indexmap::IndexMap;
use kennel_spec::{render_value, Templ, Template, Value};
use serde_json::json;

use crate::load;

fn vars(pairs: &[(&str, Value)]) -> IndexMap<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

#[test]
fn cpus_reference_is_the_integer() {
    let test = load("[variants]\ncpus = [1, 4]\n[machine]\ncpus = \"${cpus}\"\n");
    let cpus = test.machines[0].cpus.clone().expect("cpus");

    assert_eq!(cpus, Templ::Var("cpus".to_owned()));
    assert_eq!(cpus.render(&vars(&[("cpus", json!(4))])), Ok(4));
}

#[test]
fn typed_reference_of_the_wrong_type_names_the_variable() {
    let cpus: Templ<u64> = Templ::Var("cpus".to_owned());

    let err = cpus
        .render(&vars(&[("cpus", json!("four"))]))
        .expect_err("not a number");

    assert_eq!(err.variable(), "cpus");
    assert_eq!(
        err.to_string(),
        "variable `${cpus}` is \"four\", which does not fit here: invalid type: string \"four\", expected u64"
    );
}

#[test]
fn returns_reference_keeps_the_number() {
    let value = json!({ "cpus": "${n}", "list": ["${n}", "n=${n}"], "${n}": "key stays" });

    let rendered = render_value(&value, &vars(&[("n", json!(2))])).expect("render");

    assert_eq!(
        rendered,
        json!({ "cpus": 2, "list": [2, "n=2"], "${n}": "key stays" })
    );
}

#[test]
fn reference_inside_text_is_the_values_text() {
    let template = Template::parse("x${a}y${b}z${c}").expect("parse");

    let text = template.render(&vars(&[
        ("a", json!("-")),
        ("b", json!(1.5)),
        ("c", json!({ "k": [true] })),
    ]));

    assert_eq!(text.as_deref(), Ok("x-y1.5z{\"k\":[true]}"));
}

#[test]
fn double_dollar_is_a_literal_reference() {
    let template = Template::parse("echo $${HOME} $$ $ ${a}$").expect("parse");

    assert_eq!(template.vars().collect::<Vec<_>>(), ["a"]);
    assert_eq!(template.to_string(), "echo $${HOME} $$ $ ${a}$");
    assert_eq!(
        template.render(&vars(&[("a", json!("A"))])).as_deref(),
        Ok("echo ${HOME} $$ $ A$")
    );
    assert_eq!(
        Template::parse("$${x}").expect("parse").literal(),
        Some("${x}")
    );
}

#[test]
fn literal_is_none_with_references() {
    assert_eq!(Template::parse("a${b}").expect("parse").literal(), None);
    assert_eq!(Template::parse("").expect("parse").literal(), Some(""));
    assert_eq!(Template::from_text("${x}").source(), "$${x}");
}

#[test]
fn unknown_variable_names_it() {
    let template = Template::parse("${asset:disk}").expect("parse");

    let err = template.render(&vars(&[])).expect_err("unknown");

    assert_eq!(err.to_string(), "unknown variable `${asset:disk}`");
    assert_eq!(err.variable(), "asset:disk");
}

#[test]
fn bad_reference_names_are_refused() {
    let err = Template::parse("${a b}").expect_err("space");

    assert_eq!(
        err.to_string(),
        "bad variable name `a b` in `${a b}` (expected letters, digits, `_`, `-`, `.`, `:`) in \"${a b}\""
    );
    assert!(Template::parse("${}").is_err());
}

#[test]
fn typed_literal_text_in_a_string_slot_is_kept() {
    let test = load("[machine]\narch = \"x86_64\"\naccel = \"${accel}\"\n[[step]]\nshutdown = { code = \"${rc}\" }\n");

    assert_eq!(test.machines[0].arch, Some(Templ::Lit("x86_64".to_owned())));
    assert_eq!(test.machines[0].accel, Some(Templ::Var("accel".to_owned())));
    assert_eq!(
        test.steps[0].kind,
        kennel_spec::StepKind::Shutdown {
            code: Some(Templ::Var("rc".to_owned()))
        }
    );
}

#[test]
fn whole_qmp_arguments_may_be_one_reference() {
    let test = load("[variants]\nopts = [{ id = \"a\" }]\n[machine]\n[[step]]\nqmp = \"x\"\nargs = \"${opts}\"\n");

    let kennel_spec::StepKind::Qmp { args, .. } = &test.steps[0].kind else {
        panic!("not qmp");
    };
    let args = args.as_ref().expect("args");
    assert_eq!(
        render_value(args, &vars(&[("opts", json!({ "id": "a" }))])),
        Ok(json!({ "id": "a" }))
    );
}

/// Issue 11: a variable holding an exit code outside 0..=255 does not render
/// (it would compare equal to its low byte).
#[test]
fn an_exit_code_variable_outside_a_byte_does_not_render() {
    let code: Templ<u8> = Templ::Var("code".to_owned());
    let vars: IndexMap<String, Value> = [("code".to_owned(), json!(4294967296u64))].into();

    let err = code.render(&vars).expect_err("out of range");

    assert!(err.to_string().contains("`${code}` is 4294967296"), "{err}");
}
