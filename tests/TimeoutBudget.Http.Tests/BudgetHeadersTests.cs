using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace TimeoutBudget.Http.Tests;

public sealed class BudgetHeadersTests
{
    private static TimeSpan? Read(BudgetHeaderKinds kinds, params (string Name, string[] Values)[] headers)
    {
        var dictionary = new HeaderDictionary();
        foreach (var (name, values) in headers)
        {
            dictionary[name] = new StringValues(values);
        }

        return BudgetHeaders.ReadRemaining(dictionary, kinds);
    }

    [Fact]
    public void No_header_reads_as_none() => Assert.Null(Read(BudgetHeaderKinds.All));

    [Theory]
    [InlineData(BudgetHeaders.Remaining, "1500", 1500)]
    [InlineData(BudgetHeaders.EnvoyExpectedTimeout, "250", 250)]
    [InlineData(BudgetHeaders.GrpcTimeout, "2S", 2000)]
    [InlineData(BudgetHeaders.Remaining, "0", 0)]
    [InlineData(BudgetHeaders.Remaining, "-40", 0)] // negative: already expired
    [InlineData(BudgetHeaders.EnvoyExpectedTimeout, "-1", 0)]
    [InlineData(BudgetHeaders.GrpcTimeout, "0n", 0)]
    public void Reads_each_header(string name, string value, int expectedMs) =>
        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), Read(BudgetHeaderKinds.All, (name, [value])));

    [Theory]
    [InlineData(BudgetHeaders.Remaining, "abc")]
    [InlineData(BudgetHeaders.Remaining, "1.5")]
    [InlineData(BudgetHeaders.Remaining, "+5")]
    [InlineData(BudgetHeaders.Remaining, "--5")]
    [InlineData(BudgetHeaders.Remaining, "")]
    [InlineData(BudgetHeaders.Remaining, "-")]
    [InlineData(BudgetHeaders.Remaining, "12 34")]
    [InlineData(BudgetHeaders.EnvoyExpectedTimeout, "1e9")]
    [InlineData(BudgetHeaders.GrpcTimeout, "123456789m")]
    [InlineData(BudgetHeaders.GrpcTimeout, "-1S")]
    [InlineData(BudgetHeaders.Remaining, "123456789012345678901234567890123")] // longer than any sane number
    public void Malformed_values_are_ignored(string name, string value) =>
        Assert.Null(Read(BudgetHeaderKinds.All, (name, [value])));

    [Fact]
    public void A_huge_number_of_milliseconds_saturates_instead_of_overflowing()
    {
        Assert.Equal(BudgetOptions.MaxTimeoutLimit, Read(BudgetHeaderKinds.All, (BudgetHeaders.EnvoyExpectedTimeout, ["99999999999999999999999999"])));
        Assert.Equal(BudgetOptions.MaxTimeoutLimit, Read(BudgetHeaderKinds.All, (BudgetHeaders.Remaining, [long.MaxValue.ToString(System.Globalization.CultureInfo.InvariantCulture)])));
    }

    [Fact]
    public void Repeated_and_folded_values_resolve_to_the_shortest_valid_one()
    {
        Assert.Equal(TimeSpan.FromMilliseconds(400), Read(BudgetHeaderKinds.All, (BudgetHeaders.Remaining, ["900", "400", "junk"])));
        Assert.Equal(TimeSpan.FromMilliseconds(300), Read(BudgetHeaderKinds.All, (BudgetHeaders.Remaining, ["900, 300 ,junk,"])));
        Assert.Equal(TimeSpan.FromMilliseconds(700), Read(BudgetHeaderKinds.All,
            (BudgetHeaders.GrpcTimeout, ["700m"]), (BudgetHeaders.Remaining, ["9000"]), (BudgetHeaders.EnvoyExpectedTimeout, ["800"])));
    }

    [Fact]
    public void Only_the_chosen_kinds_are_read()
    {
        Assert.Null(Read(BudgetHeaderKinds.Budget, (BudgetHeaders.GrpcTimeout, ["1S"])));
        Assert.Equal(TimeSpan.FromSeconds(1), Read(BudgetHeaderKinds.GrpcTimeout, (BudgetHeaders.GrpcTimeout, ["1S"]), (BudgetHeaders.Remaining, ["5"])));
    }

    [Fact]
    public void Only_the_first_values_of_a_flood_are_read()
    {
        var flood = Enumerable.Repeat("9000", 100).Append("1").ToArray();
        Assert.Equal(TimeSpan.FromSeconds(9), Read(BudgetHeaderKinds.All, (BudgetHeaders.Remaining, flood)));
    }

    [Theory]
    [InlineData(0L, "0")]
    [InlineData(-10_000L, "0")]
    [InlineData(9_999L, "0")] // 0.9999 ms rounds down
    [InlineData(15_009_999L, "1500")]
    public void Milliseconds_are_written_rounded_down(long ticks, string expected) =>
        Assert.Equal(expected, BudgetHeaders.FormatMilliseconds(TimeSpan.FromTicks(ticks)));

    [Theory]
    [InlineData("service-b/transport", "service-b/transport")]
    [InlineData("  c  ", "c")]
    [InlineData("", null)]
    [InlineData("bad\u0001path", null)]
    [InlineData("caf\u00e9", null)]
    public void Downstream_layer_paths_are_sanitized(string path, string? expected) =>
        Assert.Equal(expected, LayerPath.SanitizeRemote(path));

    [Fact]
    public void Downstream_layer_paths_are_cut_to_a_bounded_length() =>
        Assert.Equal(LayerPath.MaxRemotePathLength, LayerPath.SanitizeRemote(new string('a', 5000))!.Length);
}
