using System.Text.Json.Nodes;
using Alora.Methods;

namespace Alora.Tests.Cli;

public class AloraCliTests
{
    static readonly string Ptb = Path.Combine(Fixtures.Root, "text", "ptb", "ptb.valid.txt");

    static string DomainFile(TempDir tmp)
    {
        var path = tmp.File("domain.jsonl");
        var lines = Enumerable
            .Range(0, 12)
            .Select(i =>
                new JsonObject
                {
                    ["question"] = $"Which organ does drug number {i} act on?",
                    ["choices"] = new JsonArray("heart", "liver", "kidney", "lung"),
                    ["answer"] = i % 4,
                }.ToJsonString()
            );
        File.WriteAllLines(path, lines);
        return path;
    }

    static string[] Common(string data, string outDir) =>
        [
            "train",
            "--model",
            Fixtures.Model("tiny-random-llama"),
            "--data",
            data,
            "--out",
            outDir,
            "--max-steps",
            "3",
            "--batch-size",
            "4",
            "--micro-batch-size",
            "4",
            "--max-length",
            "48",
            "--lr",
            "0.01",
        ];

    [FixtureFact]
    public void BothStagesRunFromTheCliAndInspectPrintsTheLayerWeights()
    {
        using var tmp = new TempDir();
        var general = tmp.File("general");
        var (c1, _, e1) = CliRunner.Run([
            .. Common(Ptb, general),
            "--method",
            "alora",
            "--stage",
            "general",
            "--si-variant",
            "exact",
            "--omega-dtype",
            "float16",
        ]);
        Assert.True(c1 == 0, e1);
        var impPath = Path.Combine(general, "importance.safetensors");
        using (var imp = ImportanceFile.Load(impPath))
        {
            Assert.Equal("exact", imp.Variant);
            Assert.Equal("float16", imp.Metadata["dtype"]);
            Assert.Equal(4, imp.Modules.Count);
        }

        var (c2, out2, e2) = CliRunner.Run("importance", "inspect", impPath);
        Assert.True(c2 == 0, e2);
        Assert.Contains("model.layers.1.self_attn.v_proj", out2);
        Assert.Contains("softmax", out2);

        var domain = tmp.File("domain");
        var (c3, _, e3) = CliRunner.Run([
            .. Common(DomainFile(tmp), domain),
            "--task",
            "mcq",
            "--method",
            "alora",
            "--stage",
            "domain",
            "--init-adapter",
            general,
            "--phi",
            "10",
            "--layer-weights",
            "softmax-normalized",
        ]);
        Assert.True(c3 == 0, e3);
        var metrics = File.ReadAllLines(Path.Combine(domain, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.All(metrics, m => Assert.NotNull(m["alora_penalty"]));
        Assert.True(Math.Abs(metrics[0]["alora_penalty"]!.GetValue<double>()) < 1e-9); // D = D_nu at the first step (up to rounding)
        Assert.True(metrics[^1]["alora_penalty"]!.GetValue<double>() > 0);
        var weights = JsonNode.Parse(File.ReadAllText(Path.Combine(domain, "layer_weights.json")))!;
        Assert.Equal("softmax-normalized", weights["weighting"]!.GetValue<string>());
        Assert.Equal(1.0, weights["modules"]!.AsArray().Sum(m => m!["weight"]!.GetValue<double>()), 9);
    }

    [FixtureFact]
    public void DomainStageWithoutTheStageNuAdapterIsAClearError()
    {
        using var tmp = new TempDir();
        var (code, _, err) = CliRunner.Run([.. Common(DomainFile(tmp), tmp.File("d")), "--task", "mcq", "--method", "alora", "--stage", "domain"]);
        Assert.Equal(1, code);
        Assert.Contains("--init-adapter", err);
    }

    [FixtureFact]
    public void StageBothRunsGeneralThenDomain()
    {
        using var tmp = new TempDir();
        var run = tmp.File("both");
        var (code, _, err) = CliRunner.Run([
            .. Common(DomainFile(tmp), run),
            "--task",
            "mcq",
            "--method",
            "alora-no-layer",
            "--stage",
            "both",
            "--general-data",
            Ptb,
        ]);
        Assert.True(code == 0, err);
        Assert.True(File.Exists(Path.Combine(run, "general", "importance.safetensors")));
        var weights = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "domain", "layer_weights.json")))!;
        Assert.All(weights["modules"]!.AsArray(), m => Assert.Equal(0.25, m!["weight"]!.GetValue<double>(), 12)); // -layer: 1/M
    }
}
