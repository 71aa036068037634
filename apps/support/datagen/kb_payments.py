"""Help-centre articles: payments, gift cards and billing."""

from __future__ import annotations

from apps.support.datagen.kbsrc import Src

CATEGORY = "payments"
ARTICLES = [
    Src("accepted-payment-methods", "Payment methods we accept", ["payments", "cards", "wallets"],
        """
## At checkout you can pay with
- **Credit and debit cards:** Visa, Mastercard, American Express and Discover.
- **Digital wallets:** the wallet built into your phone or browser.
- **{shop} gift cards** and **store credit**.
- **Pay in {inst_count}:** {inst_count} interest-free installments for orders from ${inst_min} to ${inst_max}.

## Combining methods
You can use a gift card or store credit together with one card or wallet. You can't split a payment across
two cards.

## Not accepted
Cash on delivery, checks, cryptocurrency and prepaid cards from outside the US.
""", ["what payment methods do you take", "can i pay with amex", "do you accept crypto"]),
    Src("payment-declined", "My payment was declined", ["payments", "declined", "checkout"],
        """
A decline comes from your bank, and we aren't told the exact reason. These fix most cases:

1. Check the card number, expiry date and security code.
2. Make sure the **billing address** matches the one your bank has, including the postal code.
3. Approve the payment in your banking app if it asks you to.
4. Check that the card has enough available credit; remember holds from earlier attempts.
5. Try a different card or a digital wallet.

## Several declines in a row
After 3 declined attempts, checkout pauses for 30 minutes to protect you from card testing. Wait, then try
again with the correct details. Your bank can confirm whether it blocked the payment.
""", ["my card keeps getting declined at checkout", "payment failed but the card works elsewhere"]),
    Src("pay-in-installments", "Paying in {inst_count} installments", ["payments", "installments", "pay later"],
        """
Split orders from **${inst_min} to ${inst_max}** into **{inst_count} interest-free payments**, one every
**{inst_weeks} weeks**.

## How it works
1. Choose **Pay in {inst_count}** at checkout.
2. Answer a few questions; approval takes seconds and doesn't affect your credit score.
3. The first payment is taken when the order is placed; the rest follow every {inst_weeks} weeks from the
   card you choose.

## Good to know
- The order stays *pending* until the plan is approved.
- Late payments are handled by the installment provider, which may charge a late fee.
- Returns reduce your remaining payments first; see *Refunds on Pay in {inst_count} orders*.
- Gift cards can't be bought with installments.
""", ["can i pay in installments", "buy now pay later options?", "pay in 4 how often do they charge"]),
    Src("using-gift-cards", "Using a gift card", ["payments", "gift cards", "checkout"],
        """
## At checkout
1. In the payment step, select **Add a gift card**.
2. Enter the 16-digit number and the 4-digit PIN from the back of the card or the email.
3. The balance is applied to the order. If the order costs more, pay the rest with a card or wallet.

## Good to know
- Gift cards **never expire** and have no fees.
- You can use up to 5 gift cards on one order.
- Gift cards can't be used to buy other gift cards.
- Gift cards are final sale and can't be refunded or exchanged for cash, except where the law requires.
""", ["how do i redeem a gift card", "does a gift card expire"]),
    Src("gift-card-balance", "Checking a gift card balance", ["payments", "gift cards", "balance"],
        """
## Check the balance
- Go to **Gift cards > Check balance** at the bottom of any page and enter the number and PIN, or
- Add the card to **Account > Wallet** to see the balance every time you sign in.

## Lost or stolen gift card
If you still have the order number or the gift email, contact us: we can cancel the unused balance and
issue a new card. We can't replace a gift card without proof of purchase.

## Balance looks wrong?
Each order that used the card is listed under **Account > Wallet > Gift card history**. A cancelled
order's amount goes back on the card right away.
""", ["how much is left on my gift card", "lost my gift card can you replace it"]),
    Src("billing-address", "Billing address and payment verification", ["payments", "billing address", "verification"],
        """
Your **billing address** is the address your bank has for your card. It can differ from the shipping
address.

## Why it matters
Banks compare the billing address and postal code with their records. A mismatch is one of the most
common reasons for declined payments and orders stuck on *pending*.

## Update it
- At checkout, untick **Same as shipping address** and enter the billing address.
- For saved cards, go to **Account > Wallet**, choose the card and **Edit billing address**.

We never ask for your full card number by email, chat or phone.
""", ["billing address different from shipping, is that ok", "what billing address do i put"]),
    Src("authorization-holds", "Authorisation holds on your card", ["payments", "authorization", "pending charge"],
        """
When you place an order, your bank puts a temporary **hold** on the order amount to make sure it can be
paid.

## How long holds last
- Captured holds become the actual charge; you won't be charged twice.
- Holds for orders that were declined, retried or cancelled while pending drop off within 3 to 5 business
  days, depending on your bank.

## Hotel-style holds for backorders
For backordered items the hold may be renewed when the item ships. The amount never exceeds your order
total.
""", ["there's a pending charge but my order failed", "what is an authorization hold"]),
    Src("sales-tax", "Sales tax", ["payments", "tax", "invoice"],
        """
We collect sales tax where required, based on the **shipping address**. The tax is shown at checkout
before you pay and on your invoice.

## Things that affect tax
- Some states don't tax clothing or tax it only above a certain price.
- Shipping charges are taxable in some states.
- Gift cards are not taxed when bought; tax applies when they're spent.

## Refunds
When you return an item, the tax paid on it is refunded along with the item.

## Tax-exempt purchases
See *Bulk and business orders*.
""", ["why was i charged tax", "do i get tax back when i return"]),
    Src("international-cards-and-currency", "International cards and currency", ["payments", "currency", "international"],
        """
All prices on {website} are in **US dollars (USD)**, and every order is charged in USD.

## Paying with a card from another country
Cards issued outside the US work for most orders. Your bank converts the amount and may add a foreign
transaction fee; we don't control that fee.

## Refunds
Refunds are sent in USD. Because exchange rates move, the amount in your own currency can differ slightly
from what you paid.
## Billing address outside the US
Enter your billing address exactly as your bank has it, including the country. Orders paid with a foreign
card still need a shipping address in one of the countries we ship to.
""", ["can i pay in canadian dollars", "my refund was less because of the exchange rate"]),
    Src("change-payment-method-on-order", "Changing the payment method on an order", ["payments", "orders", "pending"],
        """
## Pending orders
If the order is **pending** because the payment didn't go through:
1. Open the order in **Account > Orders**.
2. Select **Update payment method** and choose another card, wallet or gift card.
3. The order moves to *paid* once the new payment is authorised.

## Paid and shipped orders
Once the payment has been taken, we can't move it to a different method. If you need to, cancel the order
while it's still *paid* and place it again with the method you want.
""", ["can i switch the card on an order i already placed"]),
    Src("invoices-and-receipts", "Invoices and receipts", ["payments", "invoice", "receipt"],
        """
## Download an invoice
1. Go to **Account > Orders** and open the order.
2. Select **Download invoice** (PDF). It shows the items, tax, shipping, discount and payment method.

## Company details on the invoice
Add your company name and tax ID under **Account > Invoice details** before ordering. We can't change an
invoice once it's issued, but we can add a note to it: contact us with the order number.

## Guest orders
The receipt is in your confirmation email. Reply to it to request a PDF invoice.
""", ["need an invoice for my company", "where do i download a receipt"]),
    Src("payment-security", "How we keep your payment details safe", ["payments", "security", "cards"],
        """
- Card details are encrypted and handled by our PCI-compliant payment provider; {shop} never stores full
  card numbers.
- Saved cards show only the brand and the last four digits.
- Your bank may ask you to confirm a payment in its app (strong customer authentication).

## We never ask for
Your full card number, security code, PIN or password by email, chat, phone or text. If someone asks for
these claiming to be {shop}, it's a scam: see *Spotting phishing*.
""", ["is it safe to save my card on your site", "do you store my credit card number"]),
]  # fmt: skip
