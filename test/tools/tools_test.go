package tools

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"nsqreactor/internal/testutil"
)

// httpPost POSTs to a daemon and fails unless it answers 200.
func httpPost(t *testing.T, addr, target string) {
	t.Helper()
	resp, err := http.Post("http://"+addr+target, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST %s: %d %s", target, resp.StatusCode, body)
	}
}

// getJSON GETs url and decodes the JSON answer into v.
func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	client := http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v in %s", url, err, body)
	}
}

// Spec §9.5/§9.4: to_nsq publishes one message per non-empty line, and
// nsq_tail (an ephemeral-channel go-nsq consumer) prints them back and
// exits after -n messages.
func TestToNSQAndTail(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := startNSQD(t, impl)
		runTool(t, "one\ntwo\n\nthree four\n", tool(t, "to_nsq"), "--nsqd-tcp-address="+d.TCPAddr, "--topic=tools")
		out, _ := runTool(t, "", tool(t, "nsq_tail"), "--nsqd-tcp-address="+d.TCPAddr, "--topic=tools", "-n", "3")
		if out != "one\ntwo\nthree four\n" {
			t.Errorf("nsq_tail printed %q, want the three lines", out)
		}
	})
}

// Spec §9.3: nsq_stat polls /stats?format=json&topic=&channel= (and /info)
// and prints the channel's figures.
func TestNSQStat(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := startNSQD(t, impl)
		httpPost(t, d.HTTPAddr, "/topic/create?topic=stat")
		httpPost(t, d.HTTPAddr, "/channel/create?topic=stat&channel=c")
		runTool(t, "a\nb\nc\n", tool(t, "to_nsq"), "--nsqd-tcp-address="+d.TCPAddr, "--topic=stat")
		// a consumer with RDY 1 holds one message in flight
		c := testutil.Dial(t, d.TCPAddr)
		c.Sub(t, "stat", "c")
		c.Rdy(t, 1)
		c.ExpectMessage(t)
		out, _ := runTool(t, "", tool(t, "nsq_stat"), "--nsqd-http-address="+d.HTTPAddr,
			"--topic=stat", "--channel=c", "--count=2", "--interval=200ms")
		// header, then one row per report:
		//   ingress egress | total mem disk inflt def | req t-o msgs clients
		lines := strings.Split(strings.TrimSpace(out), "\n")
		row := regexp.MustCompile(`^\s*-?\d+\s+-?\d+ \|\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+) \|\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$`)
		if len(lines) < 3 || !strings.Contains(lines[1], "clients") {
			t.Fatalf("nsq_stat output:\n%s", out)
		}
		m := row.FindStringSubmatch(lines[len(lines)-1])
		if m == nil {
			t.Fatalf("no figures row in:\n%s", out)
		}
		got := strings.Join(m[1:], " ")
		// total 2, mem 2, disk 0, in flight 1, deferred 0, requeued 0,
		// timed out 0, messages 3, clients 1
		if want := "2 2 0 1 0 0 0 3 1"; got != want {
			t.Errorf("nsq_stat figures %q, want %q:\n%s", got, want, out)
		}
	})
}

// Spec §9.2: nsqadmin pointed at the daemon (--nsqd-http-address) lists
// its topics, channels and figures through its /api.
func TestNSQAdminAPI(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := startNSQD(t, impl)
		httpPost(t, d.HTTPAddr, "/topic/create?topic=adm")
		httpPost(t, d.HTTPAddr, "/channel/create?topic=adm&channel=c1")
		httpPost(t, d.HTTPAddr, "/topic/create?topic=adm2")
		runTool(t, "x\ny\n", tool(t, "to_nsq"), "--nsqd-tcp-address="+d.TCPAddr, "--topic=adm")
		httpPost(t, d.HTTPAddr, "/channel/pause?topic=adm&channel=c1")
		admin := startServer(t, tool(t, "nsqadmin"), "--http-address=127.0.0.1:0", "--nsqd-http-address="+d.HTTPAddr)
		base := "http://" + admin.Addr

		var topics struct {
			Topics  []string `json:"topics"`
			Message string   `json:"message"`
		}
		getJSON(t, base+"/api/topics", &topics)
		if strings.Join(topics.Topics, ",") != "adm,adm2" {
			t.Errorf("/api/topics: %+v", topics)
		}

		var topic struct {
			TopicName    string `json:"topic_name"`
			MessageCount int    `json:"message_count"`
			Nodes        []struct {
				Node string `json:"node"`
			} `json:"nodes"`
			Channels []struct {
				ChannelName string `json:"channel_name"`
				Depth       int    `json:"depth"`
				MemoryDepth int    `json:"memory_depth"`
				Paused      bool   `json:"paused"`
			} `json:"channels"`
		}
		getJSON(t, base+"/api/topics/adm", &topic)
		if topic.TopicName != "adm" || topic.MessageCount != 2 || len(topic.Nodes) != 1 || topic.Nodes[0].Node != d.HTTPAddr ||
			len(topic.Channels) != 1 || topic.Channels[0].ChannelName != "c1" || topic.Channels[0].Depth != 2 ||
			topic.Channels[0].MemoryDepth != 2 || !topic.Channels[0].Paused {
			t.Errorf("/api/topics/adm: %+v", topic)
		}

		var nodes struct {
			Nodes []struct {
				BroadcastAddress string `json:"broadcast_address"`
				HTTPPort         int    `json:"http_port"`
				Version          string `json:"version"`
				Topics           []struct {
					Topic string `json:"topic"`
				} `json:"topics"`
			} `json:"nodes"`
		}
		getJSON(t, base+"/api/nodes", &nodes)
		if len(nodes.Nodes) != 1 || nodes.Nodes[0].Version != "1.3.0" || len(nodes.Nodes[0].Topics) != 2 ||
			!strings.HasSuffix(d.HTTPAddr, ":"+strconv.Itoa(nodes.Nodes[0].HTTPPort)) {
			t.Errorf("/api/nodes: %+v", nodes)
		}

		// an admin action goes through to the daemon
		req, _ := http.NewRequest("POST", base+"/api/topics/adm/c1", strings.NewReader(`{"action":"unpause"}`))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("nsqadmin unpause: %d", resp.StatusCode)
		}
		getJSON(t, base+"/api/topics/adm", &topic)
		if topic.Channels[0].Paused {
			t.Errorf("channel still paused after nsqadmin's unpause: %+v", topic)
		}
	})
}

// Spec §9.2: nsqadmin's topic page, rendered by a real browser (its
// Backbone app fetches /api/topics/<t> and fills the tables), shows the
// daemon's topic with its channel and depth.
func TestNSQAdminPageInChromium(t *testing.T) {
	browser := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			browser = p
			break
		}
	}
	if browser == "" {
		t.Skip("no chromium installed (Debian: apt-get install -y chromium); skipping the nsqadmin page check")
	}
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := startNSQD(t, impl)
		httpPost(t, d.HTTPAddr, "/topic/create?topic=browsed")
		httpPost(t, d.HTTPAddr, "/channel/create?topic=browsed&channel=seen_by_chromium")
		runTool(t, "1\n2\n3\n4\n5\n6\n7\n", tool(t, "to_nsq"), "--nsqd-tcp-address="+d.TCPAddr, "--topic=browsed")
		admin := startServer(t, tool(t, "nsqadmin"), "--http-address=127.0.0.1:0", "--nsqd-http-address="+d.HTTPAddr)

		dom := dumpDOM(t, browser, "http://"+admin.Addr+"/topics/browsed")
		text := regexp.MustCompile(`\s+`).ReplaceAllString(dom, " ")
		// the channel row: name, then Depth, Memory + Disk, In-Flight,
		// Deferred, Requeued, Timed Out, Messages, Connections
		row := regexp.MustCompile(`href="/topics/browsed/seen_by_chromium">seen_by_chromium</a> </th> <td>(\d+)</td> <td>(\d+) \+ (\d+)</td>`)
		m := row.FindStringSubmatch(text)
		if m == nil {
			t.Fatalf("nsqadmin's topic page shows no seen_by_chromium row; DOM:\n%s", dom)
		}
		if m[1] != "7" || m[2] != "7" || m[3] != "0" {
			t.Errorf("channel depth %s (%s + %s) on nsqadmin's page, want 7 (7 + 0)", m[1], m[2], m[3])
		}
		if !strings.Contains(text, `<a class="link" href="/nodes/`+d.HTTPAddr+`">`+d.HTTPAddr+`</a>`) {
			t.Errorf("nsqadmin's topic page does not list the node %s", d.HTTPAddr)
		}
	})
}

// dumpDOM loads url in headless Chromium, lets its scripts run (virtual
// time budget) and returns the serialized DOM. The browser runs in its own
// process group with its own profile directory; the group is killed if it
// outlives the timeout.
func dumpDOM(t *testing.T, browser, url string) string {
	t.Helper()
	profile, err := os.MkdirTemp("", "nsqreactor-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(profile)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
		"--disable-dev-shm-usage", "--user-data-dir="+profile, "--virtual-time-budget=10000", "--dump-dom", url)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // helpers left behind, if any
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, errOut.String())
	}
	return out.String()
}
