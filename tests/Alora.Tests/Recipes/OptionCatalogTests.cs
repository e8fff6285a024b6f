using System.Text.Json.Nodes;
using Alora.Methods;
using Alora.Recipes;
using Alora.Runtime;
using Alora.Training;

namespace Alora.Tests.Recipes;

/// <summary>
/// The options of a run are typed and bound in one place. The names below are the ones the CLI, YAML files and
/// config.json have always used (the README's tables): a run folder or config written before the options were typed
/// must still read the same.
/// </summary>
public sealed class OptionCatalogTests
{
    [Fact]
    public void NamedValuesAreSpelledAsTheCommandLineAlwaysSpelledThem()
    {
        Assert.Equal(["lora", "rslora", "alora", "alora-no-layer", "ewc-lora", "replay", "ewc-nu"], EnumNames<FinetuneMethod>.Names);
        Assert.Equal(["general", "domain", "both"], EnumNames<Stage>.Names);
        Assert.Equal(["paper", "exact"], EnumNames<SiVariant>.Names);
        Assert.Equal(["softmax", "softmax-normalized", "softmax-log", "uniform"], EnumNames<LayerWeighting>.Names);
        Assert.Equal(["adamw", "sgd"], EnumNames<OptimizerKind>.Names);
        Assert.Equal(["constant", "linear", "cosine"], EnumNames<LrSchedule>.Names);
        Assert.Equal(["float32", "bfloat16", "float16"], EnumNames<ComputeDtype>.Names);
    }

    [Theory]
    [InlineData("bf16", ComputeDtype.BFloat16)]
    [InlineData("BFloat16", ComputeDtype.BFloat16)]
    [InlineData("fp16", ComputeDtype.Float16)]
    [InlineData("f32", ComputeDtype.Float32)]
    [InlineData(" float32 ", ComputeDtype.Float32)]
    public void DtypesAreReadInEverySpellingTheOldParsersTook(string text, ComputeDtype expected)
    {
        var o = OptionCatalog.Bind(new JsonObject { ["dtype"] = text }, "t");
        Assert.Equal(expected, o.Dtype);
        Assert.Equal(EnumNames<ComputeDtype>.Name(expected), o.ToJson()["dtype"]!.GetValue<string>());
    }

    /// <summary>A config.json as the string-typed options wrote it (hand-written): it binds, and writes back the same.</summary>
    [Fact]
    public void AConfigJsonOfTheStringTypedOptionsBindsAndWritesBackTheSame()
    {
        var old = new JsonObject
        {
            ["model"] = "/m",
            ["data"] = "/d",
            ["out"] = "/o",
            ["method"] = "alora-no-layer",
            ["stage"] = "general",
            ["general-data"] = null,
            ["task"] = null,
            ["rank"] = 4,
            ["alpha"] = 16.0,
            ["dropout"] = 0.0,
            ["target-modules"] = new JsonArray("q_proj", "k_proj"),
            ["rslora"] = false,
            ["lr"] = 0.01,
            ["batch-size"] = 8,
            ["micro-batch-size"] = 4,
            ["epochs"] = 2,
            ["max-steps"] = 30,
            ["max-length"] = 64,
            ["seed"] = 7,
            ["optimizer"] = "sgd",
            ["schedule"] = "cosine",
            ["warmup-ratio"] = 0.1,
            ["weight-decay"] = 0.0,
            ["max-grad-norm"] = 1.0,
            ["checkpoint-every"] = 10,
            ["resume"] = false,
            ["init-adapter"] = null,
            ["device"] = "cpu",
            ["dtype"] = "bfloat16",
            ["importance"] = null,
            ["phi"] = 10.0,
            ["xi"] = 0.01,
            ["si-variant"] = "exact",
            ["clamp-omega"] = false,
            ["layer-weights"] = "softmax-log",
            ["omega-dtype"] = "float16",
            ["prior-importance"] = null,
            ["fisher"] = null,
            ["ewc-lambda"] = 2.5,
        };
        var o = OptionCatalog.Bind(old, "config.json");
        Assert.Equal(
            (FinetuneMethod.AloraNoLayer, Stage.General, SiVariant.Exact, LayerWeighting.SoftmaxLog),
            (o.Method, o.Stage, o.SiVariant, o.LayerWeights)
        );
        Assert.Equal(
            (OptimizerKind.Sgd, LrSchedule.Cosine, ComputeDtype.BFloat16, (ComputeDtype?)ComputeDtype.Float16),
            (o.Optimizer, o.Schedule, o.Dtype, o.OmegaDtype)
        );
        // written back the same, but for options added since, which come at their defaults
        var back = o.ToJson();
        var defaults = OptionCatalog.Defaults();
        foreach (var k in back.Select(kv => kv.Key).Where(k => !old.ContainsKey(k)).ToList())
        {
            Assert.True(JsonNode.DeepEquals(defaults[k], back[k]), $"{k}: {back[k]?.ToJsonString()}");
            back.Remove(k);
        }
        Assert.True(JsonNode.DeepEquals(old, back), back.ToJsonString());
    }

    [Theory]
    [InlineData("method", "\"lora2\"", "'method': 'lora2' is not one of lora, rslora, alora, alora-no-layer, ewc-lora, replay, ewc-nu")]
    [InlineData("method", "1", "'method': '1' is not one of lora")]
    [InlineData("schedule", "\"step\"", "'schedule': 'step' is not one of constant, linear, cosine")]
    [InlineData("rank", "\"eight\"", "'rank' has the wrong type (expected a whole number)")]
    [InlineData("phii", "1", "unknown option 'phii'")]
    public void BadValuesNameTheSourceTheKeyAndWhatIsAllowed(string key, string json, string message)
    {
        var tree = OptionCatalog.Defaults();
        tree[key] = JsonNode.Parse(json);
        var e = Assert.Throws<AloraException>(() => OptionCatalog.Bind(tree, "run.yaml"));
        Assert.StartsWith("run.yaml: ", e.Message, StringComparison.Ordinal);
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EveryOptionHasHelpAndItsDefaultIsTheRecordsDefault()
    {
        var defaults = new FinetuneOptions();
        foreach (var o in OptionCatalog.Options)
        {
            Assert.False(string.IsNullOrWhiteSpace(o.Description), o.Key);
            Assert.True(JsonNode.DeepEquals(o.Default, defaults.ToJson()[o.Key]), o.Key);
            if (o.Values is not null)
                Assert.Contains(o.Values, v => o.Default is null || v == o.Default.GetValue<string>());
        }
        // the nine options that had no help before the catalog
        foreach (
            var k in new[]
            {
                "warmup-ratio",
                "weight-decay",
                "max-grad-norm",
                "checkpoint-every",
                "clamp-omega",
                "omega-dtype",
                "prior-importance",
                "ewc-lambda",
                "fisher",
            }
        )
            Assert.NotNull(OptionCatalog.Find(k));
    }

    [Theory]
    [InlineData("phi", -1.0, "--phi must be non-negative")]
    [InlineData("xi", 0.0, "--xi must be positive")]
    [InlineData("ewc-lambda", -0.5, "--ewc-lambda must be non-negative")]
    [InlineData("dropout", 1.0, "--dropout must be in [0, 1)")]
    [InlineData("warmup-ratio", 1.0, "--warmup-ratio must be in [0, 1)")]
    public void SettingsAreCheckedOnceForEverySource(string key, double value, string message)
    {
        var tree = OptionCatalog.Defaults();
        tree[key] = value;
        var o = OptionCatalog.Bind(tree, "t");
        Assert.Contains(message, Assert.Throws<AloraException>(o.ValidateSettings).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AStageTheMethodDoesNotHaveIsRefusedBeforeAnyWork()
    {
        var o = new FinetuneOptions
        {
            Model = "m",
            Data = "d",
            Out = "o",
            Method = FinetuneMethod.EwcLora,
            Stage = Stage.General,
        };
        Assert.Contains(
            "--method ewc-lora has no general stage (it has domain)",
            Assert.Throws<AloraException>(o.Validate).Message,
            StringComparison.Ordinal
        );
    }

    [Fact]
    public void TheReadmesOptionTableIsTheCatalogs()
    {
        var readme = File.ReadAllText(Path.Combine(Fixtures.RepoRoot, "README.md"));
        Assert.Equal(
            OptionCatalog.MarkdownTable(),
            Between(readme, "<!-- train options: made from OptionCatalog.MarkdownTable() -->\n", "<!-- end of train options -->")
        );
        Assert.Equal(
            MethodRegistry.MarkdownTable(),
            Between(readme, "<!-- methods: made from MethodRegistry.MarkdownTable() -->\n", "<!-- end of methods -->")
        );
    }

    static string Between(string text, string start, string end)
    {
        int a = text.IndexOf(start, StringComparison.Ordinal);
        Assert.True(a >= 0, $"README.md lacks the marker {start.Trim()}");
        a += start.Length;
        int b = text.IndexOf(end, a, StringComparison.Ordinal);
        Assert.True(b >= 0, $"README.md lacks the marker {end}");
        return text[a..b];
    }
}
