using System.Text.Json;
using System.Text.Json.Nodes;
using Alora.Lora;
using Alora.Models;
using static TorchSharp.torch;

namespace Alora.Tests.Cli;

/// <summary>What every refused input must give: exit code 1, an "error: " line, no stack trace.</summary>
public static class CliAssert
{
    public static void ClearError((int Code, string Out, string Err) r, params string[] fragments)
    {
        Assert.True(r.Code == 1, $"exit code {r.Code}; stderr: {r.Err}; stdout: {r.Out}");
        Assert.StartsWith("error: ", r.Err);
        Assert.DoesNotContain("   at ", r.Err); // no stack trace
        Assert.DoesNotContain("Exception", r.Err);
        foreach (var f in fragments)
            Assert.Contains(f, r.Err);
    }
}

/// <summary>
/// Model and adapter folders written from the in-memory tiny Llama (vocabulary 97, context 128), with
/// chosen weights made NaN or infinite: the files a crashed or diverged training run leaves behind.
/// </summary>
public static class TinyFolders
{
    public const string Target = "model.layers.1.self_attn.v_proj";

    /// <summary>A HuggingFace model folder (config.json, model.safetensors); <paramref name="poison"/> may spoil a weight first.</summary>
    public static string Model(string dir, Action<LlamaForCausalLM>? poison = null) => TinyModels.SaveLlama(dir, edit: poison);

    /// <summary>A PEFT adapter folder (q_proj and v_proj, r 2) for <see cref="Model"/>; <paramref name="poison"/> sets one value of v_proj's lora_B of layer 1.</summary>
    public static string Adapter(string dir, float? poison = null)
    {
        using var model = TinyModels.Llama();
        var config = new LoraConfig { R = 2, Alpha = 4 };
        var adapters = LoraInjector.Inject(model, config);
        using (no_grad())
        {
            foreach (var a in adapters)
                a.Layer.lora_B.weight.normal_(0, 0.1);
            if (poison is { } v)
                adapters.Single(a => a.Path == Target).Layer.lora_B.weight[3, 1].fill_(v);
        }
        PeftAdapter.Save(dir, adapters, config, "tiny");
        return dir;
    }

    /// <summary>Pre-tokenized documents in the model's vocabulary, so perplexity needs no tokenizer.</summary>
    public static string Ids(string path)
    {
        File.WriteAllLines(
            path,
            [
                new JsonObject { ["input_ids"] = new JsonArray(5, 17, 23, 42, 8, 9) }.ToJsonString(),
                new JsonObject { ["input_ids"] = new JsonArray(1, 60, 61, 62) }.ToJsonString(),
            ]
        );
        return path;
    }
}
