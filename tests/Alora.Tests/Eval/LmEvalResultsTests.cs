using System.Text.Json.Nodes;
using Alora.Data;
using Alora.Eval;

namespace Alora.Tests.Eval;

/// <summary>
/// The lm-evaluation-harness results file: key names as lm-eval 0.4 writes them (results_DATE.json: "METRIC,none",
/// "METRIC_stderr,none", "n-shot", "n-samples"...), numbers checked against hand-computed values of lm-eval's
/// definitions (api/metrics.py: mean, mean_stderr = sample_stddev / sqrt(n), weighted_perplexity, bits_per_byte).
/// </summary>
public class LmEvalResultsTests
{
    static readonly LmEvalRun Run = new()
    {
        Model = "/models/base",
        Device = "cpu",
        Dtype = "float32",
        BatchSize = 8,
        Limit = 4,
        Started = new DateTimeOffset(2026, 12, 3, 9, 30, 0, TimeSpan.Zero),
        Seconds = 12.5,
    };

    // Choices "a" (1 character) and "bbbb" (4): log-likelihoods (-2, -4) make acc pick "a" and acc_norm
    // (-2/1 against -4/4) pick "bbbb"; (-1, -8) make both pick "a".
    //   item 1: answer 0, (-2, -4): acc right, acc_norm wrong
    //   item 2: answer 0, (-2, -4): acc right, acc_norm wrong
    //   item 3: answer 0, (-1, -8): acc right, acc_norm right
    //   item 4: answer 1, (-2, -4): acc wrong, acc_norm right
    // acc = 3/4, acc_stderr = sqrt(0.75 * 0.25 / 3) = 0.25; acc_norm = 2/4, acc_norm_stderr = sqrt(0.25 / 3).
    static McqResult FourItems()
    {
        string[] choices = ["a", "bbbb"];
        var items = new[]
        {
            new McqItem("Q1", choices, 0),
            new McqItem("Q2", choices, 0),
            new McqItem("Q3", choices, 0),
            new McqItem("Q4", choices, 1),
        };
        return MultipleChoice.Aggregate("piqa", items, [-2, -4, -2, -4, -1, -8, -2, -4]);
    }

    // nll_sum = 10 ln 2 nats over 5 words and 20 bytes: word_perplexity = exp(2 ln 2) = 4,
    // bits_per_byte = 10 ln 2 / 20 / ln 2 = 0.5, byte_perplexity = exp(ln 2 / 2) = sqrt(2) = 2^0.5.
    static PerplexityResult TenLn2Nats() => new(3, 12, 10 * Math.Log(2), Math.Exp(10 * Math.Log(2) / 12), 5, 20, null, null, 64, 64, []);

    [Fact]
    public void AccuracyIsTheMeanAndItsStderrUsesNMinusOne()
    {
        var file = LmEvalResults.Build(Run, [], [new LmEvalTask("piqa", "piqa.jsonl", FourItems(), 1838)]);
        var r = file["results"]!["piqa"]!.AsObject();
        Assert.Equal(new[] { "alias", "acc,none", "acc_stderr,none", "acc_norm,none", "acc_norm_stderr,none" }, r.Select(kv => kv.Key));
        Assert.Equal("piqa", r["alias"]!.GetValue<string>());
        Assert.Equal(0.75, r["acc,none"]!.GetValue<double>(), 15);
        Assert.Equal(0.25, r["acc_stderr,none"]!.GetValue<double>(), 15);
        Assert.Equal(0.5, r["acc_norm,none"]!.GetValue<double>(), 15);
        Assert.Equal(0.28867513459481287, r["acc_norm_stderr,none"]!.GetValue<double>(), 15);
        Assert.Equal(1838, file["n-samples"]!["piqa"]!["original"]!.GetValue<int>());
        Assert.Equal(4, file["n-samples"]!["piqa"]!["effective"]!.GetValue<int>());
        Assert.Equal(JsonNode.Parse("""{"acc": true, "acc_norm": true}"""), file["higher_is_better"]!["piqa"], JsonNode.DeepEquals);
    }

    [Fact]
    public void OneItemHasNoStderrAsLmEvalWritesIt()
    {
        var one = MultipleChoice.Aggregate("mcq", [new McqItem("Q", ["x", "y"], 1)], [-1.0, -3.0]);
        var r = LmEvalResults.Build(Run, [], [new LmEvalTask("probe", "p.jsonl", one, 1)])["results"]!["probe"]!;
        Assert.Equal(0.0, r["acc,none"]!.GetValue<double>());
        Assert.Equal("N/A", r["acc_stderr,none"]!.GetValue<string>());
        Assert.Equal("N/A", r["acc_norm_stderr,none"]!.GetValue<string>());
    }

    [Fact]
    public void CorpusMetricsAreLmEvalsWeightedPerplexitiesAndBitsPerByte()
    {
        var file = LmEvalResults.Build(Run, [new LmEvalCorpus("wiki", "wiki.txt", TenLn2Nats(), 7)], []);
        var r = file["results"]!["wiki"]!.AsObject();
        Assert.Equal(
            new[]
            {
                "alias",
                "word_perplexity,none",
                "word_perplexity_stderr,none",
                "byte_perplexity,none",
                "byte_perplexity_stderr,none",
                "bits_per_byte,none",
                "bits_per_byte_stderr,none",
            },
            r.Select(kv => kv.Key)
        );
        Assert.Equal(4.0, r["word_perplexity,none"]!.GetValue<double>(), 12);
        Assert.Equal(0.5, r["bits_per_byte,none"]!.GetValue<double>(), 15);
        Assert.Equal(Math.Sqrt(2), r["byte_perplexity,none"]!.GetValue<double>(), 14);
        Assert.Equal(Math.Pow(2, r["bits_per_byte,none"]!.GetValue<double>()), r["byte_perplexity,none"]!.GetValue<double>(), 14);
        foreach (var key in new[] { "word_perplexity_stderr,none", "byte_perplexity_stderr,none", "bits_per_byte_stderr,none" })
            Assert.Equal("N/A", r[key]!.GetValue<string>());
        var config = file["configs"]!["wiki"]!;
        Assert.Equal("loglikelihood_rolling", config["output_type"]!.GetValue<string>());
        Assert.Equal(
            JsonNode.Parse(
                """
                [{"metric": "word_perplexity", "aggregation": "weighted_perplexity", "higher_is_better": false},
                 {"metric": "byte_perplexity", "aggregation": "weighted_perplexity", "higher_is_better": false},
                 {"metric": "bits_per_byte", "aggregation": "bits_per_byte", "higher_is_better": false}]
                """
            ),
            config["metric_list"],
            JsonNode.DeepEquals
        );
        Assert.Equal(7, file["n-samples"]!["wiki"]!["original"]!.GetValue<int>());
        Assert.Equal(3, file["n-samples"]!["wiki"]!["effective"]!.GetValue<int>());
    }

    [Fact]
    public void TheFileHasLmEvalsTopLevelLayout()
    {
        var run = Run with { Adapter = "/runs/mu:1", AdapterScale = 0.5 };
        var file = LmEvalResults.Build(
            run,
            [new LmEvalCorpus("wiki", "/data/wiki.txt", TenLn2Nats(), 3)],
            [new LmEvalTask("piqa", "/data/piqa.jsonl", FourItems(), 4)]
        );
        foreach (
            var key in new[]
            {
                "results",
                "group_subtasks",
                "configs",
                "versions",
                "n-shot",
                "higher_is_better",
                "n-samples",
                "config",
                "git_hash",
                "date",
                "model_name",
                "model_name_sanitized",
                "total_evaluation_time_seconds",
            }
        )
            Assert.True(file.ContainsKey(key), key);
        foreach (var section in new[] { "results", "group_subtasks", "configs", "versions", "n-shot", "higher_is_better", "n-samples" })
            Assert.Equal(new[] { "wiki", "piqa" }, file[section]!.AsObject().Select(kv => kv.Key));
        Assert.Equal(0, file["n-shot"]!["piqa"]!.GetValue<int>());
        Assert.Empty(file["group_subtasks"]!["piqa"]!.AsArray());
        var piqa = file["configs"]!["piqa"]!;
        Assert.Equal("piqa", piqa["task"]!.GetValue<string>());
        Assert.Equal("multiple_choice", piqa["output_type"]!.GetValue<string>());
        Assert.Equal(0, piqa["num_fewshot"]!.GetValue<int>());
        Assert.Equal(
            JsonNode.Parse(
                """
                [{"metric": "acc", "aggregation": "mean", "higher_is_better": true},
                 {"metric": "acc_norm", "aggregation": "mean", "higher_is_better": true}]
                """
            ),
            piqa["metric_list"],
            JsonNode.DeepEquals
        );
        var config = file["config"]!;
        Assert.Equal("alora", config["model"]!.GetValue<string>());
        Assert.Equal("pretrained=/models/base,dtype=float32,peft=/runs/mu:1,adapter_scale=0.5", config["model_args"]!.GetValue<string>());
        Assert.Equal(8, config["batch_size"]!.GetValue<int>());
        Assert.Equal("cpu", config["device"]!.GetValue<string>());
        Assert.Equal(4, config["limit"]!.GetValue<int>());
        // 2026-12-03 09:30:00 UTC in unix seconds (Python: calendar.timegm)
        Assert.Equal(1796290200.0, file["date"]!.GetValue<double>());
        Assert.Equal("12.5", file["total_evaluation_time_seconds"]!.GetValue<string>());
        // lm-eval names the model after its peft= argument and sanitizes each run of " < > : / | \ ? * [ ] into "__"
        Assert.Equal("/runs/mu:1", file["model_name"]!.GetValue<string>());
        Assert.Equal("__runs__mu__1", file["model_name_sanitized"]!.GetValue<string>());
        Assert.Null(file["git_hash"]);
    }

    [Fact]
    public void TheFileLiesBesideTheOutFile()
    {
        var dir = Path.GetFullPath("results");
        Assert.Equal(Path.Combine(dir, "eval.lm_eval.json"), LmEvalResults.PathBeside(Path.Combine(dir, "eval.json")));
        Assert.Equal(Path.Combine(dir, "eval.lm_eval.json"), LmEvalResults.PathBeside(Path.Combine(dir, "eval")));
    }

    [Fact]
    public void ACorpusAndATaskOfOneNameAreRefused()
    {
        var e = Assert.Throws<AloraException>(() => LmEvalResults.CheckNames(["piqa", "wiki"], ["piqa"]));
        Assert.Contains("'piqa'", e.Message);
        Assert.Throws<AloraException>(() =>
            LmEvalResults.Build(Run, [new LmEvalCorpus("piqa", "p.txt", TenLn2Nats(), 3)], [new LmEvalTask("piqa", "p.jsonl", FourItems(), 4)])
        );
    }

    [Fact]
    public void ACorpusOfTokenIdsHasNoLmEvalMetrics()
    {
        var ids = TenLn2Nats() with { Words = null, Bytes = null };
        Assert.False(LmEvalResults.HasTextMetrics(ids));
        Assert.Throws<ArgumentException>(() => LmEvalResults.Build(Run, [new LmEvalCorpus("ids", "ids.jsonl", ids, 3)], []));
        var suite = new EvalSuiteResult(
            [new SuitePerplexity("ids", "ids.jsonl", ids, 1, 3), new SuitePerplexity("text", "t.txt", TenLn2Nats(), 1, 3)],
            [],
            null
        );
        Assert.Equal(new[] { "text" }, LmEvalResults.FromSuite(suite, Run)["results"]!.AsObject().Select(kv => kv.Key));
    }
}
