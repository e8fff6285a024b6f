using System.Text.Json.Nodes;

namespace Alora.Experiments;

/// <summary>The jobs in an order that respects their dependencies, and the result rows they serve.</summary>
public sealed record ExperimentPlan(string OutDir, IReadOnlyList<ExperimentJob> Jobs, IReadOnlyList<ResultEntry> Entries)
{
    public string RunDir(string name) => Path.Combine(OutDir, "runs", name);

    public ExperimentJob Job(string name) => Jobs.First(j => j.Name == name);

    public JsonObject ToJson() =>
        new()
        {
            ["jobs"] = new JsonArray(
                Jobs.Select(j =>
                        (JsonNode)
                            new JsonObject
                            {
                                ["name"] = j.Name,
                                ["kind"] = j.Kind.ToString().ToLowerInvariant(),
                                ["method"] = j.Method,
                                ["seed"] = j.Seed,
                                ["task"] = j.Task,
                                ["depends_on"] = new JsonArray(j.DependsOn.Select(d => (JsonNode)JsonValue.Create(d)!).ToArray()),
                            }
                    )
                    .ToArray()
            ),
            ["results"] = new JsonArray(
                Entries
                    .Select(e =>
                        (JsonNode)
                            new JsonObject
                            {
                                ["method"] = e.Method,
                                ["seed"] = e.Seed,
                                ["task"] = e.Task,
                                ["run"] = e.Run,
                                ["sweep"] = e.Sweep,
                                ["sweep_value"] = e.SweepValue,
                            }
                    )
                    .ToArray()
            ),
        };
}
