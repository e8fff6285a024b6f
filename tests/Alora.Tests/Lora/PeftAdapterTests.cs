using System.Text.Json.Nodes;
using Alora.IO;
using Alora.Lora;
using TorchSharp;
using static TorchSharp.torch;

namespace Alora.Tests.Lora;

public class PeftAdapterTests
{
    static IReadOnlyList<AdaptedModule> Adapted(Alora.Models.CausalLM model, LoraConfig cfg, long seed)
    {
        var adapters = LoraInjector.Inject(model, cfg);
        random.manual_seed(seed);
        using (no_grad())
            foreach (var a in adapters)
                a.Layer.lora_B.weight.normal_(0, 0.2);
        return adapters;
    }

    // PEFT's save_pretrained layout, field by field (peft 0.x LoraConfig, adapter_model.safetensors).
    [Fact]
    public void SavedAdapterFollowsPeftConventions()
    {
        using var model = TinyModels.Llama();
        var adapters = Adapted(
            model,
            new LoraConfig
            {
                R = 4,
                Alpha = 16,
                Dropout = 0.05,
                UseRslora = true,
            },
            1
        );
        using var dir = new TempDir();
        PeftAdapter.Save(
            dir.Path,
            adapters,
            new LoraConfig
            {
                R = 4,
                Alpha = 16,
                Dropout = 0.05,
                UseRslora = true,
            },
            "my/base-model"
        );

        var cfg = JsonNode.Parse(File.ReadAllText(dir.File("adapter_config.json")))!.AsObject();
        Assert.Equal("LORA", cfg["peft_type"]!.GetValue<string>());
        Assert.Equal("CAUSAL_LM", cfg["task_type"]!.GetValue<string>());
        Assert.Equal(4, cfg["r"]!.GetValue<int>());
        Assert.Equal(16, cfg["lora_alpha"]!.GetValue<int>());
        Assert.Equal(0.05, cfg["lora_dropout"]!.GetValue<double>());
        Assert.Equal(new[] { "q_proj", "v_proj" }, cfg["target_modules"]!.AsArray().Select(x => x!.GetValue<string>()));
        Assert.True(cfg["use_rslora"]!.GetValue<bool>());
        Assert.False(cfg["fan_in_fan_out"]!.GetValue<bool>());
        Assert.Equal("none", cfg["bias"]!.GetValue<string>());
        Assert.Equal("my/base-model", cfg["base_model_name_or_path"]!.GetValue<string>());
        Assert.False(cfg["use_dora"]!.GetValue<bool>());
        Assert.Null(cfg["modules_to_save"]);

        var st = SafeTensorsFile.Open(dir.File("adapter_model.safetensors"));
        Assert.Equal("pt", st.Metadata["format"]);
        var expectedKeys = new List<string>();
        foreach (var layer in new[] { 0, 1 })
        foreach (var proj in new[] { "q_proj", "v_proj" })
        {
            string p = $"base_model.model.model.layers.{layer}.self_attn.{proj}";
            long outDim = proj == "q_proj" ? 32 : 16; // q: 4 heads x 8; v: 2 kv heads x 8
            Assert.Equal(new long[] { 4, 32 }, st.Entries[p + ".lora_A.weight"].Shape);
            Assert.Equal(new long[] { outDim, 4 }, st.Entries[p + ".lora_B.weight"].Shape);
            expectedKeys.Add(p + ".lora_A.weight");
            expectedKeys.Add(p + ".lora_B.weight");
        }
        Assert.Equal(expectedKeys.Order(), st.Entries.Keys.Order());
        Assert.All(st.Entries.Values, e => Assert.Equal("F32", e.DType));
    }

    // An adapter written by hand in PEFT's layout (JSON text as PEFT writes it, tensors under PEFT's keys)
    // loads and gives the same logits as the adapter it was copied from.
    [Fact]
    public void HandWrittenPeftAdapterGivesTheSameLogits()
    {
        using var trained = TinyModels.Llama();
        var adapters = Adapted(
            trained,
            new LoraConfig
            {
                R = 2,
                Alpha = 4,
                TargetModules = ["q_proj", "v_proj", "o_proj"],
            },
            2
        );
        using var ids = TinyModels.Ids(1, 9);
        using var _ = no_grad();
        using var expected = trained.forward(ids);

        using var dir = new TempDir();
        File.WriteAllText(
            dir.File("adapter_config.json"),
            """
            {
              "alpha_pattern": {},
              "auto_mapping": null,
              "base_model_name_or_path": "tiny",
              "bias": "none",
              "fan_in_fan_out": false,
              "inference_mode": true,
              "init_lora_weights": true,
              "layers_pattern": null,
              "layers_to_transform": null,
              "lora_alpha": 4,
              "lora_dropout": 0.0,
              "modules_to_save": null,
              "peft_type": "LORA",
              "r": 2,
              "rank_pattern": {},
              "revision": null,
              "target_modules": ["v_proj", "o_proj", "q_proj"],
              "task_type": "CAUSAL_LM",
              "use_rslora": false
            }
            """
        );
        var tensors = adapters.SelectMany(a =>
            new[]
            {
                new KeyValuePair<string, Tensor>($"base_model.model.{a.Path}.lora_A.weight", a.Layer.lora_A.weight),
                new KeyValuePair<string, Tensor>($"base_model.model.{a.Path}.lora_B.weight", a.Layer.lora_B.weight),
            }
        );
        SafeTensorsWriter.Write(dir.File("adapter_model.safetensors"), tensors, new Dictionary<string, string> { ["format"] = "pt" });

        using var fresh = TinyModels.Llama();
        var loaded = PeftAdapter.Apply(fresh, dir.Path);
        Assert.Equal(6, loaded.Count);
        using var actual = fresh.forward(ids);
        Assert.True((actual - expected).abs().max().item<float>() <= 1e-6);
        using var baseModel = TinyModels.Llama();
        using var baseLogits = baseModel.forward(ids);
        Assert.True((actual - baseLogits).abs().max().item<float>() > 1e-3, "the adapter must matter");
    }

    [Fact]
    public void AdapterForAnotherModelIsAClearError()
    {
        using var model = TinyModels.Llama(hidden: 32);
        var adapters = Adapted(model, new LoraConfig { R = 2 }, 3);
        using var dir = new TempDir();
        PeftAdapter.Save(dir.Path, adapters, new LoraConfig { R = 2 }, "tiny");
        using var other = TinyModels.Llama(hidden: 48);
        var e = Assert.Throws<AloraException>(() => PeftAdapter.Apply(other, dir.Path));
        Assert.Contains("wrong shapes", e.Message);
    }
}
