using TorchSharp;
using static TorchSharp.torch;

namespace Alora.Tests;

public class TorchNativeTests
{
    [Fact]
    public void NativeLibraryLoadsAndBackwardRuns()
    {
        // d/dx sum(x^2 * 3) = 6x, computed by libtorch's autograd through TorchSharp's native glue.
        using var x = tensor(new float[] { 1f, -2f, 0.5f }, requires_grad: true);
        using var y = (x * x * 3).sum();
        y.backward();
        var g = x.grad!.data<float>().ToArray();
        Assert.Equal(new[] { 6f, -12f, 3f }, g);
    }
}
