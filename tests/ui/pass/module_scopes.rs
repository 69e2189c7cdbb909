//! Each module declares its own scopes; `#[secure]` uses the nearest declaration before
//! it, in its module or an enclosing one. A root declaration after the modules is not
//! seen by them.

mod orders {
    use portcullis::prelude::*;

    portcullis::scopes! { "orders:read" => "Read orders" }

    #[secure(get, path = "/orders", scope = "orders:read")]
    pub async fn list_orders(_who: Principal) -> &'static str {
        "[]"
    }

    pub mod nested {
        use portcullis::prelude::*;

        #[secure(get, path = "/orders/archive", scope = "orders:read")]
        pub async fn archive(_who: Principal) -> &'static str {
            "[]"
        }
    }
}

mod billing {
    use portcullis::prelude::*;

    portcullis::scopes! { "billing:read" => "Read invoices" }

    #[secure(get, path = "/invoices", scope = "billing:read")]
    pub async fn list_invoices(_who: Principal) -> &'static str {
        "[]"
    }
}

fn main() {
    let _: portcullis::Routes = portcullis::routes![
        orders::list_orders,
        orders::nested::archive,
        billing::list_invoices
    ];
}
