using System.Text.Json.Nodes;
using Alora.Eval;

namespace Alora.Cli;

/// <summary>Result files as JSON with snake_case keys; a non-finite number is written as null (<see cref="EvalJson.Write"/>).</summary>
public static class ResultJson
{
    /// <summary>The perplexity result; <paramref name="more"/> adds fields (the adapter and its scale) at the end.</summary>
    public static string Perplexity(PerplexityResult r, string model, string data, bool perDocument = true, Action<JsonObject>? more = null)
    {
        ArgumentNullException.ThrowIfNull(r);
        var o = new JsonObject
        {
            ["model"] = Path.GetFullPath(model),
            ["data"] = Path.GetFullPath(data),
            ["documents"] = r.Documents,
            ["tokens"] = r.Tokens,
            ["nll_sum"] = r.NllSum,
            ["mean_nll"] = r.MeanNll,
            ["perplexity"] = r.Perplexity,
            ["words"] = r.Words,
            ["bytes"] = r.Bytes,
            ["word_perplexity"] = r.WordPerplexity,
            ["bits_per_byte"] = r.BitsPerByte,
            ["max_length"] = r.MaxLength,
            ["stride"] = r.Stride,
            ["per_document"] = !perDocument
                ? null
                : new JsonArray(
                    r.PerDocument.Select(d =>
                            (JsonNode)
                                new JsonObject
                                {
                                    ["index"] = d.Index,
                                    ["tokens"] = d.Tokens,
                                    ["nll_sum"] = d.NllSum,
                                    ["mean_nll"] = d.MeanNll,
                                }
                        )
                        .ToArray()
                ),
        };
        more?.Invoke(o);
        return EvalJson.Write(o);
    }
}
