using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Alora.Cli.Commands;

namespace Alora.Tests.Cli;

public class EvalMcqAndSuiteCliTests
{
    static string Piqa => Fixtures.Path_("datasets", "piqa", "dev.jsonl");
    static string PiqaLabels => Fixtures.Path_("datasets", "piqa", "dev-labels.lst");

    [FixtureFact]
    public void McqOnPiqaWithTinyLlamaWritesTheJson()
    {
        using var tmp = new TempDir();
        var outFile = tmp.File("piqa.json");
        var clock = Stopwatch.StartNew();
        var (code, output, err) = CliRunner.Run(
            "eval",
            "mcq",
            "--model",
            Fixtures.Model("tiny-random-llama"),
            "--task",
            "piqa",
            "--data",
            Piqa,
            "--labels",
            PiqaLabels,
            "--limit",
            "50",
            "--out",
            outFile
        );
        Assert.True(code == 0, err);
        Assert.True(clock.Elapsed < TimeSpan.FromMinutes(2), $"took {clock.Elapsed}");
        var printed = JsonNode.Parse(output)!;
        Assert.Null(printed["per_item"]); // 50 items: per-item scores only in the file
        var r = JsonNode.Parse(File.ReadAllText(outFile))!;
        Assert.Equal("piqa", r["task"]!.GetValue<string>());
        Assert.Equal(50, r["n"]!.GetValue<int>());
        double acc = r["acc"]!.GetValue<double>(),
            accNorm = r["acc_norm"]!.GetValue<double>();
        Assert.InRange(acc, 0, 1);
        Assert.InRange(accNorm, 0, 1);
        Assert.Equal(Math.Sqrt(acc * (1 - acc) / 49), r["acc_stderr"]!.GetValue<double>(), 12);
        Assert.Equal(Math.Sqrt(accNorm * (1 - accNorm) / 49), r["acc_norm_stderr"]!.GetValue<double>(), 12);
        Assert.Equal(Path.GetFullPath(Piqa), r["data"]!.GetValue<string>());
        Assert.Equal(Fixtures.Model("tiny-random-llama"), r["model"]!.GetValue<string>());
        var items = r["per_item"]!.AsArray();
        Assert.Equal(50, items.Count);
        var labels = File.ReadLines(PiqaLabels).Take(50).Select(int.Parse).ToArray();
        Assert.Equal(labels, items.Select(i => i!["answer"]!.GetValue<int>()));
        Assert.Equal(acc, items.Average(i => i!["pred"]!.GetValue<int>() == i["answer"]!.GetValue<int>() ? 1.0 : 0.0), 12);
        Assert.All(items, i => Assert.Equal(2, i!["loglikelihoods"]!.AsArray().Count));
        Assert.Equal(printed["acc"]!.GetValue<double>(), acc);
    }

    [FixtureFact]
    public void SuiteWritesPerplexityAndTasksInOneJson()
    {
        using var tmp = new TempDir();
        var text = tmp.File("general.txt");
        File.WriteAllText(text, "The cat sat on the mat.\nA second line of plain text.\nAnd a third one here.\n");
        var other = tmp.File("other.txt");
        File.WriteAllText(other, "Another corpus, unnamed: its key is the file name.\n");
        var custom = WriteProbe(tmp.File("probe.jsonl"));
        var outFile = tmp.File("suite.json");
        var model = Fixtures.Model("tiny-gpt2");
        var (code, output, err) = CliRunner.Run(
            "eval",
            "suite",
            "--model",
            model,
            "--ppl",
            "general=" + text,
            "--ppl",
            other,
            "--task",
            "piqa=" + Piqa,
            "--task",
            "mcq/probe=" + custom,
            "--limit",
            "5",
            "--out",
            outFile
        );
        Assert.True(code == 0, err);
        var r = JsonNode.Parse(File.ReadAllText(outFile))!;
        Assert.Equal(JsonNode.Parse(output)!.ToJsonString(), r.ToJsonString());
        Assert.Equal(model, r["model"]!.GetValue<string>());
        Assert.Equal(5, r["limit"]!.GetValue<int>());

        var ppl = r["perplexity"]!.AsObject();
        Assert.Equal(new[] { "general", "other" }, ppl.Select(kv => kv.Key));
        var g = ppl["general"]!;
        foreach (
            var key in new[]
            {
                "data",
                "documents",
                "tokens",
                "nll_sum",
                "mean_nll",
                "perplexity",
                "words",
                "bytes",
                "word_perplexity",
                "bits_per_byte",
                "seconds",
            }
        )
            Assert.NotNull(g[key]);
        Assert.Equal(3, g["documents"]!.GetValue<int>());

        // the same numbers as `eval perplexity` on that file
        var (code2, output2, err2) = CliRunner.Run("eval", "perplexity", "--model", model, "--data", text);
        Assert.True(code2 == 0, err2);
        var single = JsonNode.Parse(output2)!;
        Assert.Equal(single["perplexity"]!.GetValue<double>(), g["perplexity"]!.GetValue<double>());
        Assert.Equal(single["tokens"]!.GetValue<int>(), g["tokens"]!.GetValue<int>());

        var tasks = r["tasks"]!.AsObject();
        Assert.Equal(new[] { "piqa", "mcq/probe" }, tasks.Select(kv => kv.Key));
        var piqa = tasks["piqa"]!;
        Assert.Equal("piqa", piqa["task"]!.GetValue<string>());
        Assert.Equal(5, piqa["n"]!.GetValue<int>());
        foreach (var key in new[] { "acc", "acc_norm", "acc_stderr", "acc_norm_stderr", "data", "seconds" })
            Assert.NotNull(piqa[key]);
        Assert.Null(piqa["per_item"]);
        Assert.Equal("mcq", tasks["mcq/probe"]!["task"]!.GetValue<string>());
        Assert.Equal(2, tasks["mcq/probe"]!["n"]!.GetValue<int>());

        // the same accuracy as `eval mcq`
        var (code3, output3, err3) = CliRunner.Run(
            "eval",
            "mcq",
            "--model",
            model,
            "--task",
            "piqa",
            "--data",
            Piqa,
            "--limit",
            "5",
            "--batch-size",
            "3"
        );
        Assert.True(code3 == 0, err3);
        var mcq = JsonNode.Parse(output3)!;
        Assert.Equal(mcq["acc"]!.GetValue<double>(), piqa["acc"]!.GetValue<double>());
        Assert.Equal(mcq["acc_norm"]!.GetValue<double>(), piqa["acc_norm"]!.GetValue<double>());
    }

    [Fact]
    public void SuiteArgumentsParse()
    {
        Assert.Equal(new("wiki", "a/b.txt"), EvalSuiteCommand.ParseCorpus("wiki=a/b.txt"));
        Assert.Equal(new("wiki.test", "data/wiki.test.raw"), EvalSuiteCommand.ParseCorpus("data/wiki.test.raw"));
        Assert.Equal(new("x=y", "dir/x=y.txt"), EvalSuiteCommand.ParseCorpus("dir/x=y.txt"));
        Assert.Equal(new("piqa", "piqa", "dev.jsonl"), EvalSuiteCommand.ParseTask("piqa=dev.jsonl"));
        Assert.Equal(new("mcq/probe", "mcq", "p.jsonl"), EvalSuiteCommand.ParseTask("mcq/probe=p.jsonl"));
        Assert.Throws<AloraException>(() => EvalSuiteCommand.ParseTask("hellaswag=x.jsonl"));
        Assert.Throws<AloraException>(() => EvalSuiteCommand.ParseTask("dev.jsonl"));
    }

    [FixtureFact]
    public void SuiteWithNothingToDoOrDuplicateNamesIsAnError()
    {
        var model = Fixtures.Model("tiny-gpt2");
        var (code, _, err) = CliRunner.Run("eval", "suite", "--model", model);
        Assert.Equal(1, code);
        Assert.Contains("nothing to evaluate", err);
        (code, _, err) = CliRunner.Run("eval", "suite", "--model", model, "--task", "piqa=" + Piqa, "--task", "piqa=" + Piqa);
        Assert.Equal(1, code);
        Assert.Contains("two tasks are named 'piqa'", err);
    }

    // WikiText-2 test with the tiny GPT-2 end to end. The whole file (2891 documents, 277,853 tokens) gives
    // perplexity about 50287 in about 80 s; the first 200 documents keep the suite fast.
    [FixtureFact]
    public void WikiText2PerplexityWithTinyGpt2()
    {
        var data = Fixtures.Path_("text", "wikitext2", "wiki.test.raw");
        var (code, output, err) = CliRunner.Run("eval", "perplexity", "--model", Fixtures.Model("tiny-gpt2"), "--data", data, "--limit", "200");
        Assert.True(code == 0, err);
        var r = JsonNode.Parse(output)!;
        Assert.Equal(200, r["documents"]!.GetValue<int>());
        // words and bytes counted here from the file: one document per non-empty line, trimmed
        var docs = File.ReadLines(data).Select(l => l.Trim()).Where(l => l.Length > 0).Take(200).ToList();
        Assert.Equal(docs.Sum(d => Regex.Split(d, @"\s+").Length), r["words"]!.GetValue<long>());
        Assert.Equal(docs.Sum(d => (long)Encoding.UTF8.GetByteCount(d)), r["bytes"]!.GetValue<long>());
        // the tiny model (n_embd 2) is close to uniform over GPT-2's 50257 tokens
        Assert.InRange(r["perplexity"]!.GetValue<double>(), 45_000, 56_000);
        Assert.Equal(Math.Exp(r["mean_nll"]!.GetValue<double>()), r["perplexity"]!.GetValue<double>(), 6);
    }

    /// <summary>A two-item generic multiple-choice file (answers 0 and 1), for the suite's mcq task.</summary>
    internal static string WriteProbe(string path)
    {
        File.WriteAllLines(
            path,
            [
                """{"question": "What color is the sky?", "choices": ["blue", "green"], "answer": 0}""",
                """{"question": "How many legs has a cat?", "choices": ["two", "four", "six"], "answer": 1}""",
            ]
        );
        return path;
    }
}
