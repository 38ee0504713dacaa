// Package admintest reads an admin listener's /metrics the way Prometheus
// does, for the tests of admin and of the binaries that wire it.
package admintest

import (
	"io"
	"net/http"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Scrape GETs url (a /metrics endpoint) and returns its families by name,
// parsed with Prometheus's own text parser. It fails tb when the body does
// not parse, or when a family lacks HELP text or a TYPE line.
func Scrape(tb testing.TB, url string) map[string]*dto.MetricFamily {
	tb.Helper()
	resp, err := http.Get(url)
	if err != nil {
		tb.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET %s: %s", url, resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		tb.Fatalf("GET %s: Content-Type %q, want the text format", url, ct)
	}
	return Parse(tb, resp.Body)
}

// Parse is Scrape's check of an exposition already read.
func Parse(tb testing.TB, r io.Reader) map[string]*dto.MetricFamily {
	tb.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(r)
	if err != nil {
		tb.Fatalf("exposition does not parse: %v", err)
	}
	for name, mf := range mfs {
		if mf.GetHelp() == "" {
			tb.Errorf("%s has no HELP text", name)
		}
		// The parser reads a family without a TYPE line as untyped.
		if mf.GetType() == dto.MetricType_UNTYPED {
			tb.Errorf("%s has no TYPE line", name)
		}
	}
	return mfs
}

// Label returns the value of m's label name, "" when absent.
func Label(m *dto.Metric, name string) string {
	for _, lp := range m.GetLabel() {
		if lp.GetName() == name {
			return lp.GetValue()
		}
	}
	return ""
}
