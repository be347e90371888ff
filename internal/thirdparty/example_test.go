package thirdparty_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"

	"github.com/wakelink-go/wakelink/internal/thirdparty"
)

func ExampleCommonPasswords() {
	common, err := thirdparty.CommonPasswords()
	if err != nil {
		panic(err)
	}
	isCommon := func(password string) bool {
		return slices.Contains(common, strings.ToLower(password))
	}
	fmt.Println(len(common), isCommon("LetMeIn"), isCommon("correct horse battery staple"))
	// Output: 49233 true false
}

func ExampleSwaggerUI() {
	mux := http.NewServeMux()
	mux.Handle("GET /api/docs/assets/", http.StripPrefix("/api/docs/assets/", http.FileServerFS(thirdparty.SwaggerUI())))
	mux.Handle("GET /api/redoc/assets/", http.StripPrefix("/api/redoc/assets/", http.FileServerFS(thirdparty.Redoc())))

	for _, path := range []string{
		"/api/docs/assets/" + thirdparty.SwaggerUIBundle,
		"/api/docs/assets/" + thirdparty.SwaggerUICSS,
		"/api/redoc/assets/" + thirdparty.RedocStandalone,
	} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		fmt.Println(rec.Code, path)
	}
	// Output:
	// 200 /api/docs/assets/swagger-ui-bundle.js
	// 200 /api/docs/assets/swagger-ui.css
	// 200 /api/redoc/assets/bundles/redoc.standalone.js
}
