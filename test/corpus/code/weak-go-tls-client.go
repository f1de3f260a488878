package billing

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// Client talks to the payment provider's API.
type Client struct {
	base string
	http *http.Client
}

// NewClient builds a client; the sandbox uses an internal CA that is not installed here.
func NewClient(base string) *Client {
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: true},
		MaxIdleConnsPerHost: 4,
	}
	return &Client{base: base, http: &http.Client{Transport: tr, Timeout: 15 * time.Second}}
}

// Charge asks the provider to charge an amount in cents.
func (c *Client) Charge(customer string, cents int64) error {
	body, err := json.Marshal(map[string]any{"customer": customer, "amount": cents})
	if err != nil {
		return err
	}
	resp, err := c.http.Post(c.base+"/v2/charges", "application/json", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("charge: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("charge: status %d", resp.StatusCode)
	}
	return nil
}
