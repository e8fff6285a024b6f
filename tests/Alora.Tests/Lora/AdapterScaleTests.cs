using System.Text.Json.Nodes;
using Alora.Eval;
using Alora.IO;
using Alora.Lora;
using Alora.Models;
using Alora.Tests.Cli;
using static TorchSharp.torch;

namespace Alora.Tests.Lora;

/// <summary>
/// Adapter scaling, W0 + beta D with D = s B A: beta = 1 is the adapter as applied without a scale, bit for bit;
/// beta = 0 is the base model without any adapter, bit for bit; beta = 0.5 is a plain model whose weights were merged
/// by hand (in float64) as W0 + 0.5 s B A, to 1e-5 relative on the NLL (the merged and the unmerged forward round differently).
/// The model and adapter are the in-memory tiny Llama and a PEFT adapter of its q_proj and v_proj (r 2, alpha 4, B ~ N(0, 0.1)).
/// </summary>
[Collection(TorchRngCollection.Name)]
public sealed class AdapterScaleTests
{
    const double MergedTolerance = 1e-5;

    static readonly int[][] Documents =
    [
        [5, 17, 23, 42, 8, 9, 11, 60, 3, 71],
        [1, 60, 61, 62, 63, 12, 14],
        [30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41],
    ];

    static readonly LoglikelihoodRequest[] Choices =
    [
        new([1, 5, 17, 23], [42, 8]),
        new([1, 5, 17, 23], [9]),
        new([1, 5, 17, 23], [11, 60, 3]),
        new([1, 30, 31], [32]),
        new([1, 30, 31], [70, 71]),
    ];

    sealed record Scores(double[] DocumentNll, double[] Choices);

    static Scores Evaluate(CausalLM model)
    {
        model.eval();
        var ppl = Perplexity.Evaluate(model, [.. Documents.Select(d => new ScoredSequence([.. d.Select(t => (long)t)]))], new PerplexityOptions());
        var choices = new CausalLMScorer(model, batchSize: 2).Score(Choices);
        return new Scores([.. ppl.PerDocument.Select(d => d.NllSum)], choices);
    }

    static Scores Evaluate(string modelDir, string? adapter, double? scale = null, ScalarType dtype = ScalarType.Float32)
    {
        using var model = ModelLoader.Load(modelDir, CPU, dtype);
        if (adapter is not null)
        {
            if (scale is { } beta)
                PeftAdapter.Apply(model, adapter, beta);
            else
                PeftAdapter.Apply(model, adapter);
        }
        return Evaluate(model);
    }

    /// <summary>W0 + beta s B A of every adapted module, computed in float64 from the files, written as a plain model folder.</summary>
    static string MergeByHand(string modelDir, string adapter, double beta, string outDir)
    {
        var (config, _) = PeftAdapter.ReadConfig(adapter);
        double s = config.Alpha / config.R;
        var factors = SafeTensorsFile.Open(Path.Combine(adapter, PeftAdapter.WeightsFile));
        var weights = SafeTensorsFile.Open(Path.Combine(modelDir, "model.safetensors"));
        Directory.CreateDirectory(outDir);
        using var scope = NewDisposeScope();
        var tensors = new List<KeyValuePair<string, Tensor>>();
        foreach (var key in weights.Entries.Keys.Order(StringComparer.Ordinal))
        {
            var w = weights.Load(key, ScalarType.Float64, CPU);
            var path = key[..^".weight".Length];
            if (key.EndsWith(".weight", StringComparison.Ordinal) && factors.Entries.ContainsKey(PeftAdapter.KeyA(path)))
            {
                var a = factors.Load(PeftAdapter.KeyA(path), ScalarType.Float64, CPU);
                var b = factors.Load(PeftAdapter.KeyB(path), ScalarType.Float64, CPU);
                w = w + b.matmul(a) * (beta * s);
            }
            tensors.Add(KeyValuePair.Create(key, w.to_type(ScalarType.Float32)));
        }
        Assert.Equal(
            4,
            tensors.Count(t => t.Key.EndsWith("q_proj.weight", StringComparison.Ordinal) || t.Key.EndsWith("v_proj.weight", StringComparison.Ordinal))
        );
        SafeTensorsWriter.Write(Path.Combine(outDir, "model.safetensors"), tensors, new Dictionary<string, string> { ["format"] = "pt" });
        File.Copy(Path.Combine(modelDir, "config.json"), Path.Combine(outDir, "config.json"));
        return outDir;
    }

    static void AssertRelative(double[] expected, double[] actual, double tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(
                Math.Abs(actual[i] - expected[i]) <= tolerance * Math.Abs(expected[i]),
                $"{what} {i}: {actual[i]} vs {expected[i]} (relative {Math.Abs(actual[i] - expected[i]) / Math.Abs(expected[i]):G3})"
            );
    }

    [Fact]
    public void ScaleOneIsTheAdapterBitForBit()
    {
        using var tmp = new TempDir();
        var model = TinyFolders.Model(tmp.File("model"));
        var adapter = TinyFolders.Adapter(tmp.File("adapter"));
        var plain = Evaluate(model, adapter);
        var one = Evaluate(model, adapter, 1.0);
        Assert.Equal(plain.DocumentNll, one.DocumentNll);
        Assert.Equal(plain.Choices, one.Choices);
        // and the adapter does change the scores, so the comparisons below mean something
        Assert.NotEqual(Evaluate(model, null).DocumentNll, plain.DocumentNll);
        using var lm = ModelLoader.Load(model);
        var layers = PeftAdapter.Apply(lm, adapter, 1.0);
        Assert.All(layers, a => Assert.Equal(4.0 / 2, a.Layer.Scaling));
    }

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.BFloat16)]
    public void ScaleZeroIsTheBaseModelBitForBit(ScalarType dtype)
    {
        using var tmp = new TempDir();
        var model = TinyFolders.Model(tmp.File("model"));
        var adapter = TinyFolders.Adapter(tmp.File("adapter"));
        var baseline = Evaluate(model, null, dtype: dtype);
        var zero = Evaluate(model, adapter, 0.0, dtype);
        Assert.Equal(baseline.DocumentNll, zero.DocumentNll);
        Assert.Equal(baseline.Choices, zero.Choices);
    }

    [Fact]
    public void ScaleHalfIsTheModelMergedByHand()
    {
        using var tmp = new TempDir();
        var model = TinyFolders.Model(tmp.File("model"));
        var adapter = TinyFolders.Adapter(tmp.File("adapter"));
        var merged = MergeByHand(model, adapter, 0.5, tmp.File("merged"));
        var expected = Evaluate(merged, null);
        var half = Evaluate(model, adapter, 0.5);
        AssertRelative(expected.DocumentNll, half.DocumentNll, MergedTolerance, "document NLL");
        AssertRelative(expected.Choices, half.Choices, MergedTolerance, "choice log-likelihood");
        // halfway is neither end
        Assert.NotEqual(Evaluate(model, adapter).DocumentNll[0], half.DocumentNll[0]);
        Assert.NotEqual(Evaluate(model, null).DocumentNll[0], half.DocumentNll[0]);
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(-1.0)]
    [InlineData(double.PositiveInfinity)]
    public void TheLibraryRefusesABadScale(double beta)
    {
        using var tmp = new TempDir();
        var adapter = TinyFolders.Adapter(tmp.File("adapter"));
        using var lm = TinyModels.Llama();
        var e = Assert.Throws<AloraException>(() => PeftAdapter.Apply(lm, adapter, beta));
        Assert.Contains("--adapter-scale must be a finite number of at least 0", e.Message);
    }

    // The CLI: --adapter-scale on eval perplexity and eval suite against the same references, recorded in the JSON.
    [Fact]
    public void EvalPerplexityAndSuiteApplyTheScaleAndRecordIt()
    {
        using var tmp = new TempDir();
        var model = TinyFolders.Model(tmp.File("model"));
        var adapter = TinyFolders.Adapter(tmp.File("adapter"));
        var data = TinyFolders.Ids(tmp.File("ids.jsonl"));
        double[] Ppl(string m, params string[] more)
        {
            var (code, output, err) = CliRunner.Run(["eval", "perplexity", "--model", m, "--data", data, .. more]);
            Assert.True(code == 0, err);
            var json = JsonNode.Parse(output)!;
            if (more.Contains("--adapter-scale"))
                Assert.Equal(
                    double.Parse(more[Array.IndexOf(more, "--adapter-scale") + 1], System.Globalization.CultureInfo.InvariantCulture),
                    json["adapter_scale"]!.GetValue<double>()
                );
            else if (more.Contains("--adapter"))
                Assert.Equal(1.0, json["adapter_scale"]!.GetValue<double>());
            else
                Assert.Null(json["adapter_scale"]);
            return [.. json["per_document"]!.AsArray().Select(d => d!["nll_sum"]!.GetValue<double>())];
        }
        var plain = Ppl(model, "--adapter", adapter);
        Assert.Equal(plain, Ppl(model, "--adapter", adapter, "--adapter-scale", "1"));
        Assert.Equal(Ppl(model), Ppl(model, "--adapter", adapter, "--adapter-scale", "0"));
        var merged = MergeByHand(model, adapter, 0.5, tmp.File("merged"));
        AssertRelative(Ppl(merged), Ppl(model, "--adapter", adapter, "--adapter-scale", "0.5"), MergedTolerance, "document NLL");

        var (code, output, err) = CliRunner.Run(
            "eval",
            "suite",
            "--model",
            model,
            "--ppl",
            "g=" + data,
            "--adapter",
            adapter,
            "--adapter-scale",
            "0.5"
        );
        Assert.True(code == 0, err);
        var suite = JsonNode.Parse(output)!;
        Assert.Equal(0.5, suite["adapter_scale"]!.GetValue<double>());
        Assert.Equal(Path.GetFullPath(adapter), suite["adapter"]!.GetValue<string>());
        var (mcode, moutput, merr) = CliRunner.Run("eval", "suite", "--model", merged, "--ppl", "g=" + data);
        Assert.True(mcode == 0, merr);
        double expected = JsonNode.Parse(moutput)!["perplexity"]!["g"]!["perplexity"]!.GetValue<double>();
        double actual = suite["perplexity"]!["g"]!["perplexity"]!.GetValue<double>();
        Assert.True(Math.Abs(Math.Log(actual) - Math.Log(expected)) <= MergedTolerance * Math.Abs(Math.Log(expected)), $"{actual} vs {expected}");
    }

    [Fact]
    public void MergeWithAScaleWritesTheWeightsMergedByHand()
    {
        using var tmp = new TempDir();
        var model = TinyFolders.Model(tmp.File("model"));
        var adapter = TinyFolders.Adapter(tmp.File("adapter"));
        var (code, output, err) = CliRunner.Run("merge", "--model", model, "--adapter", adapter, "--adapter-scale", "0.5", "--out", tmp.File("out"));
        Assert.True(code == 0, err);
        Assert.Contains("at scale 0.5", output);
        var expected = SafeTensorsFile.Open(Path.Combine(MergeByHand(model, adapter, 0.5, tmp.File("hand")), "model.safetensors"));
        var written = SafeTensorsFile.Open(Path.Combine(tmp.File("out"), "model.safetensors"));
        Assert.Equal(expected.Entries.Keys.Order(StringComparer.Ordinal), written.Entries.Keys.Order(StringComparer.Ordinal));
        using var scope = NewDisposeScope();
        foreach (var key in expected.Entries.Keys)
        {
            var e = expected.Load(key, ScalarType.Float64, CPU);
            var w = written.Load(key, ScalarType.Float64, CPU);
            // float32 rounding of the merged sum: a few ulps of the largest weight
            double err2 = (e - w).abs().max().item<double>(),
                scale = e.abs().max().item<double>();
            Assert.True(err2 <= 1e-6 * scale, $"{key}: max difference {err2} (largest weight {scale})");
        }
    }

    [Theory]
    [InlineData("perplexity")]
    [InlineData("mcq")]
    [InlineData("suite")]
    public void ABadScaleOrOneWithoutAnAdapterIsAClearError(string command)
    {
        using var tmp = new TempDir();
        var model = TinyFolders.Model(tmp.File("model"));
        var adapter = TinyFolders.Adapter(tmp.File("adapter"));
        var data = TinyFolders.Ids(tmp.File("ids.jsonl"));
        string[] args = command switch
        {
            "perplexity" => ["eval", "perplexity", "--model", model, "--data", data],
            "mcq" => ["eval", "mcq", "--model", model, "--task", "mcq", "--data", data],
            _ => ["eval", "suite", "--model", model, "--ppl", data],
        };
        CliAssert.ClearError(CliRunner.Run([.. args, "--adapter", adapter, "--adapter-scale", "NaN"]), "--adapter-scale", "finite");
        CliAssert.ClearError(CliRunner.Run([.. args, "--adapter", adapter, "--adapter-scale", "-1"]), "--adapter-scale must be at least 0 (got -1)");
        CliAssert.ClearError(CliRunner.Run([.. args, "--adapter-scale", "0.5"]), "--adapter-scale", "--adapter");
    }

    [Fact]
    public void MergeRefusesABadScale()
    {
        using var tmp = new TempDir();
        var model = TinyFolders.Model(tmp.File("model"));
        var adapter = TinyFolders.Adapter(tmp.File("adapter"));
        CliAssert.ClearError(
            CliRunner.Run("merge", "--model", model, "--adapter", adapter, "--adapter-scale", "-1", "--out", tmp.File("out")),
            "--adapter-scale must be at least 0"
        );
        CliAssert.ClearError(
            CliRunner.Run("merge", "--model", model, "--adapter", adapter, "--adapter-scale", "nan", "--out", tmp.File("out")),
            "--adapter-scale",
            "finite"
        );
        Assert.False(Directory.Exists(tmp.File("out")));
    }
}
