using System.Text.Json.Nodes;
using Alora.Eval;
using Alora.Generation;
using Alora.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Alora.Tests.Models;

/// <summary>
/// Our forward passes against the fixtures' reference.json: logits and mean NLL from an independent
/// float32 PyTorch implementation (cross-checked in float64), and published greedy ids.
/// Tolerances are the ones reference.json states: 1e-4 on logits, 1e-5 on mean NLL.
/// </summary>
public class ReferenceLogitsTests
{
    [FixtureTheory]
    [InlineData("tiny-random-gptj")]
    [InlineData("tiny-random-llama3")]
    [InlineData("tiny-random-llama3-bf16-sharded")]
    [InlineData("tiny-random-llama")]
    [InlineData("tiny-gpt2")]
    public void LogitsNllAndGreedyMatchReference(string name)
    {
        var dir = Fixtures.Model(name);
        var reference = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "reference.json")))!.AsObject();
        double logitTol = reference["tolerance_details"]!["logits_abs"]!.GetValue<double>();
        double nllTol = reference["tolerance_details"]!["mean_nll_abs"]!.GetValue<double>();
        using var model = ModelLoader.Load(dir);
        var inputs = reference["input_ids"]!.AsArray();
        for (int s = 0; s < inputs.Count; s++)
        {
            using var scope = NewDisposeScope();
            var ids = inputs[s]!.AsArray().Select(x => x!.GetValue<long>()).ToArray();
            using var _ = no_grad();
            var logits = model.forward(tensor(ids).unsqueeze(0))[0]; // [T,V]
            if (reference["logits"] is JsonArray all)
            {
                var expected = tensor(all[s]!.AsArray().SelectMany(r => r!.AsArray().Select(v => v!.GetValue<float>())).ToArray())
                    .view(ids.Length, -1);
                double diff = (logits - expected).abs().max().item<float>();
                Assert.True(diff <= logitTol, $"{name} seq {s}: max |logit diff| {diff:E3} > {logitTol}");
            }
            else
            {
                var expected = tensor(reference["logits_last_position"]![s]!.AsArray().Select(v => v!.GetValue<float>()).ToArray());
                double diff = (logits[-1] - expected).abs().max().item<float>();
                Assert.True(diff <= logitTol, $"{name} seq {s}: max |last logit diff| {diff:E3} > {logitTol}");
            }
            var nll = TokenNll.PerPosition(logits[..^1].unsqueeze(0), tensor(ids[1..]).unsqueeze(0)).mean().item<float>();
            double expectedNll = reference["mean_nll"]![s]!.GetValue<double>();
            Assert.True(Math.Abs(nll - expectedNll) <= nllTol, $"{name} seq {s}: mean NLL {nll} vs {expectedNll}");
        }
        foreach (var g in reference["greedy"]!.AsArray())
        {
            var prompt = g!["prompt"]!.AsArray().Select(x => x!.GetValue<int>()).ToArray();
            var expected = g["new_ids"]!.AsArray().Select(x => x!.GetValue<int>()).ToArray();
            Assert.Equal(expected, GreedyDecoder.Generate(model, prompt, expected.Length));
        }
    }

    [FixtureFact]
    public void TinyLlamaGreedyIdsArePublishedOnes()
    {
        using var model = ModelLoader.Load(Fixtures.Model("tiny-random-llama"));
        Assert.Equal(new[] { 18568, 1727, 8705, 3598, 27426, 4496, 998, 16911 }, GreedyDecoder.Generate(model, [1, 2, 3], 8));
    }

    [FixtureFact]
    public void Llama31InverseFrequenciesMatchTestVector()
    {
        var r = JsonNode.Parse(File.ReadAllText(Path.Combine(Fixtures.Model("tiny-random-llama3"), "reference.json")))![
            "llama31_8b_inv_freq_test_vector"
        ]!;
        var p = r["params"]!;
        var rs = p["rope_scaling"]!;
        var scaling = new RopeScaling(
            "llama3",
            null,
            rs["factor"]!.GetValue<double>(),
            rs["low_freq_factor"]!.GetValue<double>(),
            rs["high_freq_factor"]!.GetValue<double>(),
            rs["original_max_position_embeddings"]!.GetValue<int>()
        );
        var inv = Rope.InverseFrequencies(p["head_dim"]!.GetValue<int>(), p["rope_theta"]!.GetValue<double>(), scaling);
        var expected = r["inv_freq"]!.AsArray().Select(x => x!.GetValue<double>()).ToArray();
        Assert.Equal(expected.Length, inv.Length);
        for (int i = 0; i < inv.Length; i++)
            Assert.True(
                Math.Abs(inv[i] - expected[i]) <= 1e-6 * Math.Max(1, Math.Abs(expected[i])) + 1e-9,
                $"inv_freq[{i}] {inv[i]} vs {expected[i]}"
            );
        var bands = r["bands"]!.AsArray().Select(x => x!.GetValue<string>()).ToArray();
        Assert.Contains("medium", bands); // the vector covers all three bands
    }
}
