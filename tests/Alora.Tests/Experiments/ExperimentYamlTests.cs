using System.Text.Json;
using System.Text.Json.Nodes;
using Alora.Demo;
using Alora.Experiments;

namespace Alora.Tests.Experiments;

/// <summary>An experiment written as YAML reads back (through YamlDotNet's parser) as the same configuration.</summary>
public sealed class ExperimentYamlTests
{
    static string Json(ExperimentConfig c) => JsonSerializer.Serialize(c, ExperimentConfig.Json);

    static ExperimentConfig ReadBack(string yaml, TempDir tmp)
    {
        var path = tmp.File("experiment.yaml");
        File.WriteAllText(path, yaml);
        return ExperimentConfig.Bind((JsonObject)YamlJson.Load(path)!, path);
    }

    [Fact]
    public void AHandWrittenCaseIsWrittenAsExpected()
    {
        var c = new ExperimentConfig
        {
            Model = "/m/base",
            Domain =
            [
                new()
                {
                    Name = "law",
                    Task = "mcq",
                    Train = "/d/tr.jsonl",
                    Test = "/d/te.jsonl",
                },
                new()
                {
                    Name = "med",
                    Task = "sciq",
                    Train = "/d/it's.jsonl",
                    Test = "/d/t.jsonl",
                },
            ],
            Methods = ["lora-mu", "alora"],
            Seeds = [7],
            Train = new()
            {
                ["lr"] = 0.003,
                ["target-modules"] = new JsonArray("q_proj", "v_proj"),
                ["rslora"] = true,
            },
            Overrides = new Dictionary<string, JsonObject>
            {
                ["alora"] = new() { ["phi"] = 30.0, ["layer-weights"] = "uniform" },
            },
            Fisher = new() { Samples = 16 },
        };
        // hand-written: defaults (device, dtype, general, probes, stages, eval, sweeps, fisher.per-seed) left out
        const string expected = """
            # one
            # two
            model: '/m/base'
            domain:
              - name: law
                task: mcq
                train: '/d/tr.jsonl'
                test: '/d/te.jsonl'
              - name: med
                task: sciq
                train: '/d/it''s.jsonl'
                test: '/d/t.jsonl'
            methods: [lora-mu, alora]
            seeds: [7]
            train:
              lr: 0.003
              target-modules: [q_proj, v_proj]
              rslora: true
            overrides:
              alora:
                phi: 30
                layer-weights: uniform
            fisher:
              samples: 16

            """;
        Assert.Equal(expected.ReplaceLineEndings("\n"), ExperimentYaml.Write(c, "one", "two"));
    }

    [Fact]
    public void StringsThatLookLikeNumbersOrBooleansStayStrings()
    {
        using var tmp = new TempDir();
        var c = new ExperimentConfig
        {
            Model = "/x/1e3",
            Domain =
            [
                new()
                {
                    Name = "true",
                    Task = "null",
                    Train = "/d/'quoted'",
                    Test = "/d/a: b # c",
                },
            ],
            Methods = ["42", "Yes", "off", "n", "1e3", ".inf", "-x", "a b", "NULL"],
        };
        Assert.Equal(Json(c), Json(ReadBack(ExperimentYaml.Write(c), tmp)));
    }

    [Fact]
    public void TheDemosExperimentReadsBackAsTheSameConfiguration()
    {
        using var tmp = new TempDir();
        foreach (var o in new[] { DemoOptions.Default("d"), DemoOptions.QuickRun("q"), DemoOptions.Study("s"), DemoOptions.StudyQuick("sq") })
        {
            var c = DemoRecipe.Configuration(o, tmp.File("base"), tmp.File("data"));
            Assert.Equal(Json(c), Json(ReadBack(ExperimentYaml.Write(c), tmp)));
        }
    }

    [Fact]
    public void SavingLeavesNoTemporaryFile()
    {
        using var tmp = new TempDir();
        ExperimentYaml.Save(new ExperimentConfig { Model = "/m" }, tmp.File("e.yaml"));
        Assert.Equal(["e.yaml"], Directory.GetFiles(tmp.Path).Select(Path.GetFileName));
        Assert.Equal("model: '/m'\n", File.ReadAllText(tmp.File("e.yaml")));
    }
}
