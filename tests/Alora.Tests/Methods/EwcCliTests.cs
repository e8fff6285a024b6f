using System.Text.Json.Nodes;
using Alora.IO;
using Alora.Tests.Cli;

namespace Alora.Tests.Methods;

public class EwcCliTests
{
    static readonly string Ptb = Path.Combine(Fixtures.Root, "text", "ptb", "ptb.valid.txt");
    static string Tiny => Fixtures.Model("tiny-random-llama");

    [FixtureFact]
    public void FisherThenEwcLoraTrainingRunsFromTheCli()
    {
        using var tmp = new TempDir();
        var fisher = tmp.File("fisher.safetensors");
        var (c1, out1, e1) = CliRunner.Run(
            "fisher",
            "--model",
            Tiny,
            "--data",
            Ptb,
            "--out",
            fisher,
            "--samples",
            "6",
            "--max-length",
            "32",
            "--target-modules",
            "q_proj,v_proj",
            "--seed",
            "3"
        );
        Assert.True(c1 == 0, e1);
        Assert.Contains("seconds:", out1);
        Assert.Contains($"bytes: {new FileInfo(fisher).Length}", out1);
        var file = SafeTensorsFile.Open(fisher);
        Assert.Equal(4, file.Entries.Count); // q_proj and v_proj of 2 layers
        Assert.Equal(new long[] { 16, 16 }, file.Entries["model.layers.1.self_attn.v_proj"].Shape);
        Assert.Equal("6", file.Metadata["samples"]);
        Assert.Equal("32", file.Metadata["max_length"]);

        var run = tmp.File("run");
        var (c2, _, e2) = CliRunner.Run(
            "train",
            "--model",
            Tiny,
            "--data",
            Ptb,
            "--out",
            run,
            "--method",
            "ewc-lora",
            "--fisher",
            fisher,
            "--ewc-lambda",
            "1000",
            "--max-steps",
            "3",
            "--batch-size",
            "4",
            "--max-length",
            "32",
            "--lr",
            "0.05",
            "--dropout",
            "0"
        );
        Assert.True(c2 == 0, e2);
        var metrics = File.ReadAllLines(Path.Combine(run, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        Assert.Equal(3, metrics.Count);
        Assert.All(metrics, m => Assert.True(m.ContainsKey("ewc_penalty")));
        Assert.Equal(0.0, metrics[0]["ewc_penalty"]!.GetValue<double>()); // B = 0 at the first step: D = 0
        Assert.True(metrics[2]["ewc_penalty"]!.GetValue<double>() > 0);
        var loss = metrics[2]["loss"]!.GetValue<double>() - metrics[2]["task_loss"]!.GetValue<double>();
        Assert.Equal(metrics[2]["ewc_penalty"]!.GetValue<double>(), loss, 1e-6);
        var ewc = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "ewc.json")))!;
        Assert.Equal(1000, ewc["lambda"]!.GetValue<double>());
        Assert.True(ewc["fisher_mean"]!.GetValue<double>() > 0);
    }

    [FixtureFact]
    public void EwcLoraWithoutAFisherFailsClearly()
    {
        using var tmp = new TempDir();
        var (code, _, err) = CliRunner.Run(
            "train",
            "--model",
            Tiny,
            "--data",
            Ptb,
            "--out",
            tmp.File("run"),
            "--method",
            "ewc-lora",
            "--max-steps",
            "1",
            "--batch-size",
            "2",
            "--max-length",
            "16"
        );
        Assert.Equal(1, code);
        Assert.Contains("needs --fisher", err);
        var (c2, _, e2) = CliRunner.Run("fisher", "--model", Tiny, "--data", Ptb, "--out", tmp.File("f.bin"));
        Assert.Equal(1, c2);
        Assert.Contains(".safetensors", e2);
        var (c3, _, e3) = CliRunner.Run(
            "fisher",
            "--model",
            Tiny,
            "--data",
            Ptb,
            "--out",
            tmp.File("f.safetensors"),
            "--target-modules",
            "qkv_proj",
            "--samples",
            "1"
        );
        Assert.Equal(1, c3);
        Assert.Contains("qkv_proj", e3);
    }
}
