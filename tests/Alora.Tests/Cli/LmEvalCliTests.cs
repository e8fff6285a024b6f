using System.Globalization;
using System.Text.Json.Nodes;
using Alora.Eval;

namespace Alora.Tests.Cli;

/// <summary>
/// `eval perplexity`, `eval mcq` and `eval suite` with --out FILE.json also write FILE.lm_eval.json in the layout of
/// lm-evaluation-harness's results file; its numbers must be those of Alora's own JSON, by lm-eval's definitions.
/// </summary>
public class LmEvalCliTests
{
    static string Piqa => Fixtures.Path_("datasets", "piqa", "dev.jsonl");

    static JsonNode Read(string path) => JsonNode.Parse(File.ReadAllText(path))!;

    [FixtureFact]
    public void SuiteWritesLmEvalResultsThatAgreeWithItsOwnJson()
    {
        using var tmp = new TempDir();
        var text = tmp.File("general.txt");
        File.WriteAllText(text, "The cat sat on the mat.\nA second line of plain text.\nAnd a third one here, with ünïcode.\n");
        var probe = EvalMcqAndSuiteCliTests.WriteProbe(tmp.File("probe.jsonl"));
        var outFile = tmp.File("suite.json");
        var model = Fixtures.Model("tiny-gpt2");
        var before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
        var (code, _, err) = CliRunner.Run(
            "eval",
            "suite",
            "--model",
            model,
            "--ppl",
            "general=" + text,
            "--task",
            "piqa=" + Piqa,
            "--task",
            "mcq/probe=" + probe,
            "--limit",
            "5",
            "--batch-size",
            "4",
            "--out",
            outFile
        );
        var after = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
        Assert.True(code == 0, err);
        var own = Read(outFile);
        var lm = Read(tmp.File("suite.lm_eval.json"));

        var g = own["perplexity"]!["general"]!;
        var rg = lm["results"]!["general"]!;
        double nll = g["nll_sum"]!.GetValue<double>(),
            words = g["words"]!.GetValue<long>(),
            bytes = g["bytes"]!.GetValue<long>();
        Assert.Equal(g["word_perplexity"]!.GetValue<double>(), rg["word_perplexity,none"]!.GetValue<double>(), 12);
        Assert.Equal(Math.Exp(nll / words), rg["word_perplexity,none"]!.GetValue<double>(), 12);
        Assert.Equal(g["bits_per_byte"]!.GetValue<double>(), rg["bits_per_byte,none"]!.GetValue<double>(), 14);
        double bytePpl = rg["byte_perplexity,none"]!.GetValue<double>();
        Assert.Equal(Math.Exp(nll / bytes), bytePpl, 12);
        Assert.Equal(Math.Pow(2, g["bits_per_byte"]!.GetValue<double>()), bytePpl, 12);
        Assert.Equal("N/A", rg["bits_per_byte_stderr,none"]!.GetValue<string>());
        Assert.Equal(3, lm["n-samples"]!["general"]!["effective"]!.GetValue<int>());
        Assert.Equal(3, lm["n-samples"]!["general"]!["original"]!.GetValue<int>());

        foreach (var name in new[] { "piqa", "mcq/probe" })
        {
            var t = own["tasks"]![name]!;
            var rt = lm["results"]![name]!;
            Assert.Equal(name, rt["alias"]!.GetValue<string>());
            foreach (var metric in new[] { "acc", "acc_stderr", "acc_norm", "acc_norm_stderr" })
                Assert.Equal(t[metric]!.GetValue<double>(), rt[metric + ",none"]!.GetValue<double>());
            Assert.Equal(t["n"]!.GetValue<int>(), lm["n-samples"]![name]!["effective"]!.GetValue<int>());
            Assert.Equal("multiple_choice", lm["configs"]![name]!["output_type"]!.GetValue<string>());
        }
        // the piqa fixture's items, counted here from the file: the limit keeps 5 of them
        Assert.Equal(File.ReadLines(Piqa).Count(l => l.Trim().Length > 0), lm["n-samples"]!["piqa"]!["original"]!.GetValue<int>());
        Assert.Equal(5, lm["n-samples"]!["piqa"]!["effective"]!.GetValue<int>());
        Assert.Equal(2, lm["n-samples"]!["mcq/probe"]!["original"]!.GetValue<int>());

        var config = lm["config"]!;
        Assert.Equal("alora", config["model"]!.GetValue<string>());
        Assert.Equal($"pretrained={model},dtype=float32", config["model_args"]!.GetValue<string>());
        Assert.Equal(5, config["limit"]!.GetValue<int>());
        Assert.Equal(4, config["batch_size"]!.GetValue<int>());
        Assert.Equal("cpu", config["device"]!.GetValue<string>());
        Assert.InRange(lm["date"]!.GetValue<double>(), before - 0.001, after);
        Assert.InRange(
            double.Parse(lm["total_evaluation_time_seconds"]!.GetValue<string>(), CultureInfo.InvariantCulture),
            0,
            after - before + 0.001
        );
        Assert.Equal(model, lm["model_name"]!.GetValue<string>());
    }

    [FixtureFact]
    public void McqOfOneItemWritesNotAvailableStderrs()
    {
        using var tmp = new TempDir();
        var outFile = tmp.File("piqa.json");
        var (code, _, err) = CliRunner.Run(
            "eval",
            "mcq",
            "--model",
            Fixtures.Model("tiny-gpt2"),
            "--task",
            "piqa",
            "--data",
            Piqa,
            "--limit",
            "1",
            "--out",
            outFile
        );
        Assert.True(code == 0, err);
        var own = Read(outFile);
        var r = Read(tmp.File("piqa.lm_eval.json"))["results"]!["piqa"]!;
        Assert.Null(own["acc_stderr"]); // Alora's JSON writes the NaN of one item as null, lm-eval "N/A"
        Assert.Equal("N/A", r["acc_stderr,none"]!.GetValue<string>());
        Assert.Equal("N/A", r["acc_norm_stderr,none"]!.GetValue<string>());
        Assert.Equal(own["acc"]!.GetValue<double>(), r["acc,none"]!.GetValue<double>());
        Assert.Equal(own["acc_norm"]!.GetValue<double>(), r["acc_norm,none"]!.GetValue<double>());
    }

    [FixtureFact]
    public void PerplexityOfTextWritesTheFileAndOfTokenIdsSaysWhyNot()
    {
        using var tmp = new TempDir();
        var text = tmp.File("wiki.test.raw");
        File.WriteAllText(text, "One line of text.\n\nAnother paragraph, the second document.\n");
        var (code, _, err) = CliRunner.Run(
            "eval",
            "perplexity",
            "--model",
            Fixtures.Model("tiny-gpt2"),
            "--data",
            text,
            "--out",
            tmp.File("ppl.json")
        );
        Assert.True(code == 0, err);
        var own = Read(tmp.File("ppl.json"));
        var lm = Read(tmp.File("ppl.lm_eval.json"));
        // named as `eval suite` names an unnamed corpus: the file name without its extension
        var r = lm["results"]!["wiki.test"]!;
        Assert.Equal(own["word_perplexity"]!.GetValue<double>(), r["word_perplexity,none"]!.GetValue<double>(), 12);
        Assert.Equal(own["bits_per_byte"]!.GetValue<double>(), r["bits_per_byte,none"]!.GetValue<double>(), 14);
        Assert.Equal("loglikelihood_rolling", lm["configs"]!["wiki.test"]!["output_type"]!.GetValue<string>());

        var model = TinyModels.SaveLlama(tmp.File("llama"));
        var ids = TinyModels.WriteIdsJsonl(tmp.File("ids.jsonl"), 3, 8);
        (code, _, err) = CliRunner.Run("eval", "perplexity", "--model", model, "--data", ids, "--out", tmp.File("ids-ppl.json"));
        Assert.True(code == 0, err);
        Assert.True(File.Exists(tmp.File("ids-ppl.json")));
        Assert.False(File.Exists(tmp.File("ids-ppl.lm_eval.json")));
        Assert.Contains("no lm-eval results file", err);
        Assert.Contains("input_ids", err);
    }

    [FixtureFact]
    public void SuiteRefusesACorpusAndATaskOfOneNameBeforeScoring()
    {
        using var tmp = new TempDir();
        var text = tmp.File("general.txt");
        File.WriteAllText(text, "Some text.\n");
        var (code, _, err) = CliRunner.Run(
            "eval",
            "suite",
            "--model",
            Fixtures.Model("tiny-gpt2"),
            "--ppl",
            "piqa=" + text,
            "--task",
            "piqa=" + Piqa,
            "--out",
            tmp.File("s.json")
        );
        Assert.Equal(1, code);
        Assert.Contains("both named 'piqa'", err);
        Assert.False(File.Exists(tmp.File("s.json")));
    }
}
