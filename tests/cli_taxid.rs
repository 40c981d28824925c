//! `moadian taxid`: generate (tax ID on the last line), check (exit 0/1) with decoded parts.

use assert_cmd::Command;
use predicates::prelude::*;

fn moadian() -> Command {
    let mut c = Command::cargo_bin("moadian").unwrap();
    c.env_remove("MOADIAN_LANG");
    c
}

fn last_line(out: &[u8]) -> String {
    String::from_utf8_lossy(out)
        .lines()
        .last()
        .unwrap_or("")
        .to_string()
}

#[test]
fn generate_from_indatim_and_from_date() {
    let out = moadian()
        .args([
            "taxid",
            "--memory-id",
            "A11216",
            "--indatim",
            "1683997837988",
            "--serial",
            "49321217",
        ])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("0002F09501"))
        .get_output()
        .stdout
        .clone();
    assert_eq!(last_line(&out), "A1121604C220002F095011");
    let out = moadian()
        .args([
            "taxid",
            "--memory-id",
            "DEF5GH",
            "--date",
            "2020-07-20",
            "--serial",
            "8173",
        ])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    assert_eq!(last_line(&out), "DEF5GH0481F0000001FED8");
}

#[test]
fn check_valid_and_invalid() {
    moadian()
        .args(["--lang", "en", "taxid", "--check", "A1121604C220002F095011"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("A11216"))
        .stdout(predicate::str::contains("2023-05-13"))
        .stdout(predicate::str::contains("1402/02/23"))
        .stdout(predicate::str::contains("49321217"))
        .stdout(predicate::str::contains("0x0002F09501"));
    moadian()
        .args(["--lang", "en", "taxid", "--check", "A278W604C8000000004744"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("A278W604C8000000004747"));
    moadian()
        .args(["taxid", "--check", "not-a-taxid"])
        .assert()
        .code(1);
}

#[test]
fn usage_errors_exit_2() {
    moadian().args(["taxid"]).assert().code(2);
    moadian()
        .args(["taxid", "--memory-id", "A11216", "--serial", "1"])
        .assert()
        .code(2);
    moadian()
        .args([
            "taxid",
            "--memory-id",
            "A1I216",
            "--date",
            "2023-05-13",
            "--serial",
            "1",
        ])
        .assert()
        .code(2);
    moadian()
        .args([
            "taxid",
            "--memory-id",
            "A11216",
            "--date",
            "2023-02-30",
            "--serial",
            "1",
        ])
        .assert()
        .code(2);
    moadian()
        .args([
            "taxid",
            "--memory-id",
            "A11216",
            "--date",
            "2023-05-13",
            "--serial",
            "1099511627776",
        ])
        .assert()
        .code(2);
}
