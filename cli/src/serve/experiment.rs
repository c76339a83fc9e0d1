//! The experiment handler: runs a bundled experiment file within the
//! experiment budget and answers with its report as a page of its own.

use super::budget::{self, PAGE_TRIALS, Stopped};
use super::ctx::Ctx;
use super::form::{Form, default_scenario};
use super::http::Page;
use super::listing::{EXPERIMENT_DIR, SCENARIO_DIR};
use super::listing::{read_listed, toml_list};
use super::templates::{self, Shown};
use std::collections::BTreeMap;

/// The report's own inline style needs `'unsafe-inline'`; it has no script.
const REPORT_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The main page with a problem shown at the experiment form.
fn problem_page(ctx: &Ctx, status: u16, file: &str, problem: String) -> Page {
    let list = toml_list(ctx.scenarios);
    let mut form = Form {
        scenario: default_scenario(&list),
        ..Form::default()
    };
    form.toml = read_listed(
        ctx.scenarios,
        SCENARIO_DIR,
        &list,
        &form.scenario,
        "scenario",
    )
    .unwrap_or_default();
    let errors = [problem];
    let shown = Shown {
        experiment: file,
        experiment_errors: &errors,
        ..Shown::default()
    };
    Page::html(status, templates::main_page(ctx, &list, &form, &shown))
}

/// `POST /experiment`: runs `file` from the experiments folder.
pub(super) fn experiment_page(params: &BTreeMap<String, String>, ctx: &Ctx) -> Page {
    let file = params
        .get("file")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let experiments = toml_list(ctx.experiments);
    if file.is_empty() {
        return problem_page(ctx, 400, &file, "choose an experiment file".into());
    }
    // Checks the name is listed (so inside the folder) and readable.
    if let Err(e) = read_listed(
        ctx.experiments,
        EXPERIMENT_DIR,
        &experiments,
        &file,
        "experiment",
    ) {
        return problem_page(ctx, 400, &file, e);
    }
    let path = format!("{EXPERIMENT_DIR}/{file}");
    let real = ctx.experiments.join(&file).to_string_lossy().into_owned();
    // The report, or its table to download (`format` = csv or json).
    let format = params.get("format").map(String::as_str).unwrap_or("");
    if !matches!(format, "" | "html" | "csv" | "json") {
        return problem_page(
            ctx,
            400,
            &file,
            format!("format: unknown format {format:?}; valid formats are html, csv and json"),
        );
    }
    let run = budget::within(ctx.experiment_budget, ctx.client, || {
        crate::report::experiment::run_capped(&real, PAGE_TRIALS)
    });
    match run {
        Ok(Ok((e, out, cut))) => {
            let stem = file.trim_end_matches(".toml");
            let table = |body: String, kind: &'static str, ext: &str| {
                Page {
                    content_type: kind,
                    ..Page::html(200, body)
                }
                .with_header(
                    "Content-Disposition",
                    format!("attachment; filename=\"{stem}.{ext}\""),
                )
            };
            match format {
                "csv" => table(out.table.to_csv(), "text/csv; charset=utf-8", "csv"),
                "json" => table(
                    out.table.to_json(),
                    "application/json; charset=utf-8",
                    "json",
                ),
                _ => Page {
                    csp: REPORT_CSP,
                    ..Page::html(
                        200,
                        templates::experiment_report(
                            &file,
                            &crate::report::experiment::report(&e, &out),
                            cut.map(|t| (t, PAGE_TRIALS)),
                        ),
                    )
                },
            }
        }
        Ok(Err(e)) => problem_page(ctx, 400, &file, format!("{path}: {e}")),
        Err(Stopped::Cut(cut)) => problem_page(
            ctx,
            422,
            &file,
            format!(
                "{} The page limits every experiment so that one request cannot hold the server; the command line has no such limits: dynsim experiment {path}",
                cut.describe("experiment")
            ),
        ),
        Err(Stopped::Panicked(text)) => problem_page(
            ctx,
            500,
            &file,
            format!("the experiment panicked (a bug in dynsim): {text}"),
        ),
    }
}
