"""`bot nlu eval | benchmark DIR | lint` (registered by bot.cli)."""

from __future__ import annotations

import argparse


def _cmd_eval(args: argparse.Namespace) -> int:
    from bot.nlu.evaluate import run_eval

    run_eval(args.config, args.data, args.holdout, args.report_dir, args.stock_epochs,
             with_stock=not args.no_stock, domain=args.domain, whole=args.whole,
             model=args.model)
    return 0


def _cmd_benchmark(args: argparse.Namespace) -> int:
    from bot.nlu.benchmark import run_benchmark
    from bot.nlu.modeling import parse_settings

    result = run_benchmark(args.dir, config=args.config, epochs=args.epochs,
                           extractor=args.extractor, overrides=parse_settings(args.set),
                           classifier=parse_settings(args.classifier_set, "--classifier-set"),
                           errors_file=args.errors)
    print(result.summary())
    if args.errors:
        print(f"Sentences with errors: {args.errors}")
    return 0


def _cmd_lint(args: argparse.Namespace) -> int:
    from bot.nlu.lint import lint_paths

    problems = lint_paths(args.data, teencode_file=args.teencode,
                          min_examples=args.min_examples)
    for p in problems:
        print(p)
    if problems:
        print(f"\n{len(problems)} problem(s) in the NLU training data.")
        return 1
    print("NLU training data: no problems found.")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    nlu = subparsers.add_parser("nlu", help="Vietnamese NLU: evaluation, benchmark, data lint")
    sub = nlu.add_subparsers(dest="nlu_command", required=True)

    ev = sub.add_parser("eval", help="train on data/, evaluate on the hold-out set, "
                                     "compare with Rasa's stock pipeline")
    ev.add_argument("--config", default="config.yml")
    ev.add_argument("--data", default="data")
    ev.add_argument("--domain", default="domain.yml")
    ev.add_argument("--holdout", default="tests/nlu/holdout.yml")
    ev.add_argument("--report-dir", default="reports")
    ev.add_argument("--stock-epochs", type=int, default=30,
                    help="epochs of the stock DIET/ResponseSelector (rasa init: 100)")
    ev.add_argument("--no-stock", action="store_true", help="skip the stock pipeline")
    ev.add_argument("--whole", action="store_true",
                    help="train the whole assistant (NLU + dialogue, as `make train`), not "
                         "the NLU alone: the number the README reports")
    ev.add_argument("--model", default=None,
                    help="evaluate this trained model archive instead of training one")
    ev.set_defaults(func=_cmd_eval)

    bm = sub.add_parser("benchmark", help="joint intent/slot benchmark on DIR/{train,dev,test}"
                                          "/{seq.in,seq.out,label}")
    bm.add_argument("dir")
    bm.add_argument("--config", default="config.yml",
                    help="pipeline whose normaliser/tokenizer/classifier settings are used")
    bm.add_argument("--extractor", choices=("learned", "crf"), default="learned",
                    help="learned: our spaCy NER (default); crf: Rasa's CRFEntityExtractor")
    bm.add_argument("--epochs", type=int, default=None,
                    help="training epochs of the extractor (learned: its default; "
                         "crf: iterations, default 50)")
    bm.add_argument("--set", action="append", metavar="KEY=VALUE",
                    help="a setting of the extractor, e.g. --set width=256 (YAML value)")
    bm.add_argument("--classifier-set", action="append", metavar="KEY=VALUE",
                    help="a setting of the intent classifier on top of the config's, e.g. "
                         "--classifier-set C=20; word_ngram_max=N fixes the word n-gram "
                         "length, which is otherwise chosen by cross-validation on train")
    bm.add_argument("--errors", metavar="FILE",
                    help="write each sentence with a wrong intent or slot to FILE (keep it "
                         "outside the repository: it quotes the data set)")
    bm.set_defaults(func=_cmd_benchmark)

    li = sub.add_parser("lint", help="check the NLU training data for designer mistakes")
    li.add_argument("--data", nargs="+", default=["data/nlu"])
    li.add_argument("--teencode", default=None, help="teencode YAML (default: packaged)")
    li.add_argument("--min-examples", type=int, default=40)
    li.set_defaults(func=_cmd_lint)
