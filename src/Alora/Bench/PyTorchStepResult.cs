using System.Text.Json.Nodes;

namespace Alora.Bench;

/// <summary>
/// The JSON line tools/bench/pytorch_lora_step.py prints: the same LoRA step of the same shape in PyTorch, measured as
/// <see cref="TrainBench"/> measures Alora's (median and min of the timed steps, the process's peak RSS, its own sgemm peak).
/// </summary>
public sealed record PyTorchStepResult(
    double TokensPerSecond,
    double MedianMs,
    double MinMs,
    long PeakRssBytes,
    double SgemmGflops,
    double Loss,
    string TorchVersion,
    string Blas,
    JsonObject Raw
)
{
    public static PyTorchStepResult Parse(string line)
    {
        JsonObject j;
        try
        {
            j = JsonNode.Parse(line)?.AsObject() ?? throw new AloraException("the PyTorch script printed null");
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new AloraException($"the PyTorch script's output is not JSON ({e.Message}): {line}");
        }
        double D(string k) => j[k]?.GetValue<double>() ?? throw new AloraException($"the PyTorch script's JSON has no {k}: {line}");
        return new PyTorchStepResult(
            D("tokens_per_second"),
            D("ms_per_step_median"),
            D("ms_per_step_min"),
            (long)D("peak_rss_bytes"),
            D("sgemm_gflops"),
            D("loss"),
            j["torch_version"]?.GetValue<string>() ?? "",
            j["blas"]?.GetValue<string>() ?? "",
            j
        );
    }
}
